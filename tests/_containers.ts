/**
 * Running containers in integration tests: busybox imported into a test
 * daemon, `ctr run` with a private FIFO directory, and cleanup of whatever
 * a test left running (tasks, containers, shims, runc state).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CommandResult,
  isAlive,
  processesNaming,
  run,
  startDaemon,
  type TestDaemon,
  type TestDaemonOptions,
} from "./_harness.ts";

export { isAlive };
import { buildImage, saveOciArchive } from "./fixtures/images.ts";
import { readMountInfo } from "../src/mount/mountinfo.ts";
import { listBundles as listStateBundles } from "../src/runtime/bundle.ts";

/** The reference busybox is imported under. */
export const BUSYBOX = "docker.io/library/busybox:latest";

/** Where a daemon keeps its bundles, as `STATE/io.containerd.runtime.v2.task`. */
export function bundlesDir(daemon: TestDaemon): string {
  return join(daemon.state, "io.containerd.runtime.v2.task");
}

/** The FIFO directory handed to ctr (its default is the host's). */
export function fifoDir(daemon: TestDaemon): string {
  return join(daemon.dir, "fifo");
}

/** Imports the offline busybox image and makes the FIFO directory. */
export async function prepareBusybox(daemon: TestDaemon): Promise<void> {
  const busybox = await buildImage("busybox");
  const archive = join(daemon.dir, "busybox.tar");
  await saveOciArchive(busybox.layout, archive, BUSYBOX);
  const imported = await daemon.ctr(["images", "import", archive]);
  assert.equal(imported.code, 0, imported.stderr);
  await Deno.mkdir(fifoDir(daemon), { recursive: true });
}

/** `ctr run --fifo-dir FIFOS ARGS…` against `daemon`. */
export function ctrRun(
  daemon: TestDaemon,
  args: string[],
  stdin?: string,
): Promise<CommandResult> {
  return daemon.ctr(
    ["run", "--fifo-dir", fifoDir(daemon), ...args],
    stdin === undefined ? {} : { stdin },
  );
}

/** `ctr tasks exec --fifo-dir FIFOS ARGS…` against `daemon`. */
export function ctrExec(
  daemon: TestDaemon,
  args: string[],
): Promise<CommandResult> {
  return daemon.ctr(["tasks", "exec", "--fifo-dir", fifoDir(daemon), ...args]);
}

/** Kills and removes every task and container the daemon knows. */
export async function removeAllContainers(daemon: TestDaemon): Promise<void> {
  const ids = (await daemon.ctr(["containers", "ls", "-q"])).stdout.split("\n")
    .filter(Boolean);
  for (const id of ids) {
    await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
    await daemon.ctr(["tasks", "rm", "-f", id]);
    await daemon.ctr(["containers", "rm", id]);
  }
}

/**
 * The last resort when the daemon cannot clean up (it died, or a test
 * broke it): kills the shims its bundles name and force-deletes what runc
 * still holds under the daemon's state, so no process or cgroup outlives
 * the test.
 */
export async function reapShimsAndRunc(daemon: TestDaemon): Promise<void> {
  for (const [namespace, id] of await listBundles(daemon)) {
    const pid = await readShimPid(daemon, namespace, id);
    if (pid !== undefined) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
  const runcRoots = join(daemon.state, "runc");
  const namespaces = await Array.fromAsync(Deno.readDir(runcRoots)).catch(
    () => [],
  );
  for (const { name: ns } of namespaces) {
    const root = join(runcRoots, ns);
    const listed = await run("runc", ["--root", root, "list", "-q"]);
    for (const id of listed.stdout.split("\n").filter(Boolean)) {
      await run("runc", ["--root", root, "delete", "--force", id]);
    }
  }
}

/**
 * `[namespace, id]` of every bundle directory the daemon has (a deleted
 * bundle whose files are still being removed is no longer one).
 */
export async function listBundles(
  daemon: TestDaemon,
): Promise<[string, string][]> {
  const bundles: [string, string][] = [];
  for await (const { namespace, id } of listStateBundles(daemon.state)) {
    bundles.push([namespace, id]);
  }
  return bundles;
}

/** The pid a bundle's `shim.pid` records, if any. */
export async function readShimPid(
  daemon: TestDaemon,
  namespace: string,
  id: string,
): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(
      join(bundlesDir(daemon), namespace, id, "shim.pid"),
    );
    return Number(text.trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` every 100 ms until it is true; fails after `timeoutMs`. */
export async function waitUntil(
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

/** `ctr -n NAMESPACE tasks ls` (default: the daemon's) as id → status. */
export async function taskStatuses(
  daemon: TestDaemon,
  namespace: string = daemon.namespace,
): Promise<Map<string, string>> {
  const ls = await daemon.ctr(["-n", namespace, "tasks", "ls"]);
  assert.equal(ls.code, 0, ls.stderr);
  return new Map(
    ls.stdout.split("\n").slice(1).filter(Boolean).map((line) => {
      const [id, _pid, status] = line.split(/\s+/);
      return [id, status];
    }),
  );
}

/**
 * Live (not zombie) processes other than the daemon whose command line
 * names the test's directory: its shims, and whatever they left.
 */
export function strayProcesses(daemon: TestDaemon): Promise<string[]> {
  return processesNaming(daemon.dir, daemon.process.pid);
}

/** Retries `check` until it returns an empty list or `ms` pass. */
export async function settles<T>(check: () => Promise<T[]>, ms = 10_000) {
  const deadline = Date.now() + ms;
  let left = await check();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await check();
  }
  return left;
}

/**
 * Runs `fn` on a fresh daemon (started with `options`) with busybox
 * imported; afterwards removes every task and container, and reaps
 * whatever the daemon could not.
 */
export async function withBusybox(
  fn: (
    daemon: TestDaemon,
    ctrRun: (args: string[], stdin?: string) => Promise<CommandResult>,
  ) => Promise<void>,
  options?: TestDaemonOptions,
): Promise<void> {
  await using daemon = await startDaemon(options);
  try {
    await prepareBusybox(daemon);
    await fn(daemon, (args, stdin) => ctrRun(daemon, args, stdin));
  } finally {
    await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
  }
  // Removing every task must have ended every shim and unmounted every
  // rootfs: say which not (and end them).
  const stray = await settles(() => strayProcesses(daemon), 5_000);
  for (const line of stray) {
    try {
      Deno.kill(Number(line.split(":")[0]), "SIGKILL");
    } catch { /* gone */ }
  }
  if (stray.length > 0) {
    throw new Error(`running after every task was removed: ${stray}`);
  }
  const left = readMountInfo().map((m) => m.mountPoint).filter((p) =>
    p.startsWith(bundlesDir(daemon))
  );
  if (left.length > 0) {
    throw new Error(`mounted after every task was removed: ${left}`);
  }
}
