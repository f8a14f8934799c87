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
import { join } from "node:path";
import {
  bundlesDir,
  BUSYBOX as IMAGE,
  ctrExec,
  ctrRun,
  fifoDir,
  isAlive,
  listBundles,
  prepareBusybox,
  reapShimsAndRunc,
  removeAllContainers,
  settles,
  withBusybox,
} from "./_containers.ts";
import { run, startDaemon, watchEvents } from "./_harness.ts";
import { Client } from "../src/client/mod.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";

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
      `${daemon.state}/runc/${daemon.namespace}`,
      "list",
      "-q",
    ]);
    assert.equal(listed.stdout.trim(), "c3");
    const exec = await ctrExec(daemon, [
      "--exec-id",
      "e1",
      "c3",
      "echo",
      "from exec",
    ]);
    assert.equal(exec.stdout, "from exec\n", exec.stderr);
    // Tasks.Get names an exec'd process by its exec id (containerd: the
    // process's ID), whether its shim answers (its State leaves exec_id
    // unset) or, once its exit was waited for, the daemon does.
    const detached = await ctrExec(daemon, [
      "--detach",
      "--exec-id",
      "e2",
      "c3",
      "true",
    ]);
    assert.equal(detached.code, 0, detached.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const e2 = { containerId: "c3", execId: "e2" };
    assert.equal((await tasks.get(e2)).process?.id, "e2");
    assert.equal((await tasks.wait(e2)).exitStatus, 0);
    const waited = await tasks.get(e2);
    assert.equal(waited.process?.id, "e2");
    assert.equal(waited.process?.status, Status.STOPPED);
    await tasks.deleteProcess(e2);
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

/** containerd-shim-runc-v2 processes serving the daemon at `address`. */
async function containerdShims(address: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      if (
        cmdline.startsWith(CONTAINERD_SHIM) && cmdline.includes(address) &&
        await isAlive(pid)
      ) pids.push(pid);
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

Deno.test("containerd-shim-runc-v2 groups containers by its annotation", async () => {
  const existed = await Promise.all(
    SHIM_SOCKETS.map((d) => Deno.stat(d).then(() => true, () => false)),
  );
  await using daemon = await startDaemon({
    config: `[runtimes."io.containerd.runc.v2"]\nshim = "${CONTAINERD_SHIM}"\n`,
  });
  try {
    await prepareBusybox(daemon);
    const pod = ["--annotation", "io.containerd.runc.v2.group=pod"];
    for (
      const args of [
        [...pod, IMAGE, "p1", "sleep", "60"],
        [...pod, IMAGE, "p2", "sleep", "60"],
        [IMAGE, "alone", "sleep", "60"],
      ]
    ) {
      const r = await ctrRun(daemon, ["-d", ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    const address = (id: string) =>
      Deno.readTextFile(
        join(bundlesDir(daemon), daemon.namespace, id, "address"),
      );
    assert.equal(await address("p1"), await address("p2"));
    assert.notEqual(await address("p1"), await address("alone"));
    assert.equal((await containerdShims(daemon.address)).length, 2);
    // The pod's shim serves p2 after p1 is gone, and ends with it.
    for (const id of ["p1", "p2"]) {
      if (id === "p2") {
        const exec = await daemon.ctr([
          "tasks",
          "exec",
          "--fifo-dir",
          fifoDir(daemon),
          "--exec-id",
          "e1",
          "p2",
          "echo",
          "p2 runs",
        ]);
        assert.equal(exec.stdout, "p2 runs\n", exec.stderr);
      }
      const rm = await daemon.ctr(["tasks", "rm", "-f", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }
    assert.deepEqual(
      await settles(async () =>
        (await containerdShims(daemon.address)).length > 1 ? [1] : []
      ),
      [],
    );
    assert.match(
      (await daemon.ctr(["tasks", "ls"])).stdout,
      /alone\s+\d+\s+RUNNING/,
    );
  } finally {
    await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
    for (const [i, dir] of SHIM_SOCKETS.entries()) {
      if (!existed[i]) await Deno.remove(dir).catch(() => {});
    }
  }
});
