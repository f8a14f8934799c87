/**
 * Runtimes: the real `containerd-shim-runc-v2` from containerd's package,
 * configured as a berth runtime, runs containers, reports their exits and
 * forwards its task events to berth over the daemon's ttrpc socket.
 *
 * That shim puts its socket under `/run/containerd/s/` whatever the daemon
 * (a hash of berth's address names it, so nothing of a real containerd's is
 * touched); the test removes the directories if it made them.
 */
import assert from "node:assert/strict";
import {
  BUSYBOX as IMAGE,
  ctrRun,
  fifoDir,
  listBundles,
  prepareBusybox,
  reapShimsAndRunc,
  removeAllContainers,
  withBusybox,
} from "./_containers.ts";
import { run, startDaemon, watchEvents } from "./_harness.ts";

const CONTAINERD_SHIM = "/usr/bin/containerd-shim-runc-v2";
const SHIM_SOCKETS = ["/run/containerd/s", "/run/containerd"];

Deno.test("containerd-shim-runc-v2 as a runtime runs containers", async () => {
  const existed = await Promise.all(
    SHIM_SOCKETS.map((d) => Deno.stat(d).then(() => true, () => false)),
  );
  await using daemon = await startDaemon({
    config: `[runtimes."io.containerd.runc.v2"]\nshim = "${CONTAINERD_SHIM}"\n`,
  });
  await using events = await watchEvents(daemon.address);
  try {
    await prepareBusybox(daemon);
    const hello = await ctrRun(daemon, ["--rm", IMAGE, "c1", "echo", "hello"]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.equal(hello.stdout, "hello\n");
    const seven = await ctrRun(daemon, [
      "--rm",
      IMAGE,
      "c2",
      "sh",
      "-c",
      "exit 7",
    ]);
    assert.equal(seven.code, 7, seven.stderr);
    // A detached one runs under the daemon's runc root, and exec works.
    assert.equal(
      (await ctrRun(daemon, ["-d", IMAGE, "c3", "sleep", "60"])).code,
      0,
    );
    const listed = await run("runc", [
      "--root",
      `${daemon.state}/runc/default`,
      "list",
      "-q",
    ]);
    assert.equal(listed.stdout.trim(), "c3");
    const exec = await daemon.ctr([
      "tasks",
      "exec",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "e1",
      "c3",
      "echo",
      "from exec",
    ]);
    assert.equal(exec.stdout, "from exec\n", exec.stderr);
    // The shim's own events reach berth's subscribers.
    await events.waitFor(
      /\/tasks\/exit[^\n]*container_id=c2|\/tasks\/exec-started/,
    );
    assert.match(events.text, /\/tasks\/create/);
    assert.match(events.text, /\/tasks\/delete/);
  } finally {
    await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
    for (const [i, dir] of SHIM_SOCKETS.entries()) {
      if (!existed[i]) await Deno.remove(dir).catch(() => {});
    }
  }
});

Deno.test("an unknown runtime is refused and leaves nothing behind", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const r = await ctrRun([
      "--rm",
      "--runtime",
      "io.containerd.bogus.v1",
      IMAGE,
      "b1",
      "true",
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /runtime "io\.containerd\.bogus\.v1".*not found/);
    assert.deepEqual(await listBundles(daemon), []);
  });
});
