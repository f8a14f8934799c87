/**
 * Running containers beyond the basics: tasks that outlive the daemon,
 * `ctr run` options seen from inside the container, pause/resume, and bad
 * input refused without leaving anything behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";
import { apiClient } from "./_client.ts";
import {
  bundlesDir,
  BUSYBOX,
  ctrRun,
  fifoDir,
  isAlive,
  listBundles,
  prepareBusybox,
  readShimPid,
  reapShimsAndRunc,
  removeAllContainers,
} from "./_containers.ts";
import { run, startDaemon, type TestDaemon } from "./_harness.ts";

/** Polls `check` every 100 ms until it is true; fails after `timeoutMs`. */
async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `ctr tasks ls` as id → status. */
async function taskStatuses(daemon: TestDaemon): Promise<Map<string, string>> {
  const ls = await daemon.ctr(["tasks", "ls"]);
  assert.equal(ls.code, 0, ls.stderr);
  return new Map(
    ls.stdout.split("\n").slice(1).filter(Boolean).map((line) => {
      const [id, _pid, status] = line.split(/\s+/);
      return [id, status];
    }),
  );
}

/** Mount points under the daemon's directory. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").map((line) => line.split(" ")[4])
    .filter((point) => point?.startsWith(`${dir}/`));
}

Deno.test("tasks outlive a killed daemon and are found again; a dead shim's task is cleaned up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  let daemon = await startDaemon({ dir });
  let daemonUp = true;
  try {
    await prepareBusybox(daemon);
    const sleepers = Array.from({ length: 10 }, (_, i) => `sleeper${i}`);
    // The short one exits with 42 once the test creates /tmp/go in its
    // rootfs: exactly while no daemon runs.
    // The orphan's shim dies with the daemon: the next daemon must clean
    // up after it (kill its process, unmount, remove bundle and runc state).
    const started = await Promise.all([
      ctrRun(daemon, ["-d", BUSYBOX, "orphan", "sleep", "600"]),
      ...sleepers.map((id) =>
        ctrRun(daemon, ["-d", BUSYBOX, id, "sleep", "600"])
      ),
      ctrRun(daemon, [
        "-d",
        BUSYBOX,
        "short",
        "sh",
        "-c",
        "until [ -e /tmp/go ]; do sleep 0.1; done; exit 42",
      ]),
    ]);
    for (const result of started) assert.equal(result.code, 0, result.stderr);
    const ids = [...sleepers, "short", "orphan"];
    const shimPids = new Map<string, number>();
    for (const id of ids) {
      const pid = await readShimPid(daemon, "default", id);
      assert.ok(pid, `shim.pid of ${id}`);
      shimPids.set(id, pid);
    }
    const tasks = () =>
      apiClient(Tasks, { address: daemon.address, namespace: "default" });
    const orphanPid = (await tasks().get({ containerId: "orphan" })).process
      ?.pid;
    assert.ok(orphanPid && await isAlive(orphanPid));
    const orphanShim = await readShimPid(daemon, "default", "orphan");
    assert.ok(orphanShim);

    daemon.process.kill("SIGKILL");
    await daemon.process.status;
    daemonUp = false;
    for (const [id, pid] of shimPids) {
      assert.ok(await isAlive(pid), `shim of ${id} survives the daemon`);
    }
    Deno.kill(orphanShim, "SIGKILL");
    await waitUntil(
      "the orphan's shim dies",
      async () => !await isAlive(orphanShim),
    );
    const shortBundle = join(bundlesDir(daemon), "default", "short");
    await Deno.writeTextFile(join(shortBundle, "rootfs", "tmp", "go"), "");
    await waitUntil("short exits", async () => {
      try {
        await Deno.stat(join(shortBundle, "exit"));
        return true;
      } catch {
        return false;
      }
    });

    daemon = await startDaemon({ dir });
    daemonUp = true;
    const statuses = await taskStatuses(daemon);
    assert.deepEqual(
      [...statuses].sort(),
      [
        ...sleepers.map((id) => [id, "RUNNING"]),
        ["short", "STOPPED"],
      ].sort(),
    );
    assert.ok(!await isAlive(orphanPid), "the orphan's process is killed");
    assert.ok(
      !(await listBundles(daemon)).some(([, id]) => id === "orphan"),
      "the orphan's bundle is removed",
    );
    assert.deepEqual(
      (await mountsUnder(dir)).filter((point) => point.includes("/orphan/")),
      [],
    );
    // The container is intact: its task starts again.
    const restarted = await daemon.ctr([
      "tasks",
      "start",
      "-d",
      "--fifo-dir",
      fifoDir(daemon),
      "orphan",
    ]);
    assert.equal(restarted.code, 0, restarted.stderr);
    sleepers.push("orphan");
    const short = await tasks().get({ containerId: "short" });
    assert.equal(short.process?.status, Status.STOPPED);
    assert.equal(short.process?.exitStatus, 42);
    const removed = await daemon.ctr(["tasks", "rm", "short"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /exit code 42/);

    for (const id of sleepers) {
      if (id !== "orphan") {
        assert.ok(await isAlive(shimPids.get(id)!), `shim of ${id}`);
      }
      const ps = await daemon.ctr(["tasks", "ps", id]);
      assert.equal(ps.code, 0, ps.stderr);
      const pid = (await tasks().get({ containerId: id })).process?.pid;
      assert.match(ps.stdout, new RegExp(`^${pid}\\s`, "m"));
      const killed = await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
      assert.equal(killed.code, 0, killed.stderr);
    }
    await waitUntil(
      "the sleepers stop",
      async () =>
        [...(await taskStatuses(daemon)).values()].every((s) =>
          s === "STOPPED"
        ),
    );
    for (const id of sleepers) {
      const exit = await tasks().get({ containerId: id });
      assert.equal(exit.process?.exitStatus, 137, id);
      const rm = await daemon.ctr(["tasks", "rm", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }
    for (const id of ids) {
      const rm = await daemon.ctr(["containers", "rm", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }

    assert.deepEqual(await taskStatuses(daemon), new Map());
    assert.deepEqual(await listBundles(daemon), []);
    assert.deepEqual(await mountsUnder(dir), []);
    const runc = await run("runc", [
      "--root",
      join(daemon.state, "runc", "default"),
      "list",
      "-q",
    ]);
    assert.equal(runc.stdout.trim(), "");
    await waitUntil("the shims exit", async () => {
      for (const pid of shimPids.values()) {
        if (await isAlive(pid)) return false;
      }
      return true;
    });
  } finally {
    if (daemonUp) await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
    await daemon[Symbol.asyncDispose]();
  }
});
