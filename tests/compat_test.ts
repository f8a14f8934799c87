/**
 * Behaviours containerd's Go client relies on that `ctr` never exercises
 * (issue 11's daemon side), each checked as containerd 1.6 behaves.
 */
import assert from "node:assert/strict";
import { BUSYBOX, readShimPid, withBusybox } from "./_containers.ts";

/** Each open fd of process `pid` and what it points at. */
async function openFiles(pid: number): Promise<Map<number, string>> {
  const files = new Map<number, string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      files.set(
        Number(entry.name),
        await Deno.readLink(`/proc/${pid}/fd/${entry.name}`),
      );
    } catch { /* closed while we looked */ }
  }
  return files;
}

/** The sockets process `pid` holds. */
async function sockets(pid: number): Promise<Set<string>> {
  return new Set(
    [...(await openFiles(pid)).values()].filter((t) => t.startsWith("socket:")),
  );
}

Deno.test("shims and containers inherit no fd of the daemon", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", BUSYBOX, "fds", "sleep", "60"]);
    assert.equal(started.code, 0, started.stderr);
    const shim = await readShimPid(daemon, "default", "fds");
    assert.ok(shim, "the shim's pid is recorded");
    const daemonSockets = await sockets(daemon.process.pid);
    const shared = [...await sockets(shim)].filter((s) => daemonSockets.has(s));
    assert.deepEqual(shared, [], `shim ${shim} holds the daemon's sockets`);

    const ls = await daemon.ctr(["tasks", "ls"]);
    const pid = Number(ls.stdout.match(/^fds\s+(\d+)/m)?.[1]);
    assert.ok(pid > 0, ls.stdout);
    const files = await openFiles(pid);
    assert.deepEqual([...files.keys()].sort(), [0, 1, 2], [...files].join());
  });
});
