/**
 * Fifty containers at once: concurrent `ctr run -d` against one berth
 * daemon all start, all run, and killing and removing them leaves nothing
 * behind — no bundle, no runc container, no shim, no mount.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { mountsUnder } from "../src/mount/mod.ts";
import { run, startDaemon, type TestDaemon } from "./_harness.ts";
import {
  BUSYBOX as IMAGE,
  fifoDir,
  isAlive,
  prepareBusybox,
  settles,
  strayProcesses,
} from "./_containers.ts";

const CONTAINERS = 50;

/** Bundles of the daemon's tasks in its namespace. */
function bundleDir(daemon: TestDaemon): string {
  return join(daemon.state, "io.containerd.runtime.v2.task", daemon.namespace);
}

async function bundles(daemon: TestDaemon): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(bundleDir(daemon))))
      .map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function runcContainers(daemon: TestDaemon): Promise<string[]> {
  const listed = await run("runc", [
    "--root",
    join(daemon.state, "runc", daemon.namespace),
    "list",
    "-q",
  ]);
  return listed.stdout.split("\n").filter(Boolean);
}

/**
 * Whatever a failed test left goes: tasks and containers through ctr,
 * then shims (by the pids in their bundles) and runc containers directly.
 */
async function forceCleanup(daemon: TestDaemon): Promise<void> {
  const ids = (await daemon.ctr(["containers", "ls", "-q"])).stdout
    .split("\n").filter(Boolean);
  await Promise.all(ids.map(async (id) => {
    await daemon.ctr(["tasks", "rm", "-f", id]);
    await daemon.ctr(["containers", "rm", id]);
  }));
  for (const id of await runcContainers(daemon)) {
    await run("runc", [
      "--root",
      join(daemon.state, "runc", daemon.namespace),
      "delete",
      "--force",
      id,
    ]);
  }
  for (const id of await bundles(daemon)) {
    try {
      const pid = Number(
        await Deno.readTextFile(join(bundleDir(daemon), id, "shim.pid")),
      );
      if (pid > 1) Deno.kill(pid, "SIGKILL");
    } catch {
      // no shim, or already gone
    }
  }
}

Deno.test(`${CONTAINERS} concurrent ctr run -d start, run and clean up`, async () => {
  await using daemon = await startDaemon();
  await prepareBusybox(daemon);
  const fifos = fifoDir(daemon);
  const ids = Array.from({ length: CONTAINERS }, (_, i) => `scale-${i}`);
  try {
    const started = await Promise.all(
      ids.map((id) =>
        daemon.ctr([
          "run",
          "-d",
          "--fifo-dir",
          fifos,
          IMAGE,
          id,
          "sleep",
          "600",
        ])
      ),
    );
    const failed = started.flatMap((r, i) =>
      r.code === 0 ? [] : [`${ids[i]}: ${r.stderr.trim()}`]
    );
    assert.deepEqual(failed, [], "every ctr run -d succeeds");

    const listed = await daemon.ctr(["tasks", "ls"]);
    assert.equal(listed.code, 0, listed.stderr);
    const running = listed.stdout.split("\n").slice(1)
      .filter((line) => /\sRUNNING\s*$/.test(line))
      .map((line) => line.split(/\s+/));
    assert.deepEqual(
      running.map(([id]) => id).sort(),
      [...ids].sort(),
      listed.stdout,
    );
    const initPids = running.map(([, pid]) => Number(pid));

    const removed = await Promise.all(ids.map(async (id) => {
      const task = await daemon.ctr(["tasks", "rm", "-f", id]);
      if (task.code !== 0) return `tasks rm -f ${id}: ${task.stderr.trim()}`;
      const container = await daemon.ctr(["containers", "rm", id]);
      if (container.code !== 0) {
        return `containers rm ${id}: ${container.stderr.trim()}`;
      }
      return "";
    }));
    assert.deepEqual(removed.filter(Boolean), [], "every removal succeeds");

    assert.equal((await daemon.ctr(["tasks", "ls", "-q"])).stdout, "");
    assert.equal((await daemon.ctr(["containers", "ls", "-q"])).stdout, "");
    assert.deepEqual(await bundles(daemon), [], "no bundles left");
    assert.deepEqual(await runcContainers(daemon), [], "no runc containers");
    assert.deepEqual(await settles(() => strayProcesses(daemon)), []);
    assert.deepEqual(
      await settles(async () => {
        const alive = await Promise.all(initPids.map(isAlive));
        return initPids.filter((_, i) => alive[i]);
      }),
      [],
      "the containers' processes are gone",
    );
    const mounts = mountsUnder(daemon.dir).map((m) => m.mountPoint);
    assert.deepEqual(mounts, [], "no mounts left under the test directory");
  } finally {
    await forceCleanup(daemon);
  }
});
