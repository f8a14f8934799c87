/**
 * A test's cgroups: ctr puts a container in cgroup `/NAMESPACE/ID` of every
 * hierarchy, the machine's and not the daemon's, and runc leaves
 * `/NAMESPACE` behind when it deletes the container's. Removing a test's
 * namespaces' cgroups leaves nothing of the test there; a process still in
 * one is a leak, killed and told.
 *
 * @module
 */
import { join } from "node:path";

/** Where the cgroup hierarchies are mounted. */
const CGROUP_ROOT = "/sys/fs/cgroup";

/** How long a cgroup's processes get to leave (exiting, or being reaped). */
const SETTLE_MS = 5_000;

/** Every hierarchy's root: the unified one, or each one v1 mounts. */
async function hierarchies(): Promise<string[]> {
  try {
    await Deno.stat(join(CGROUP_ROOT, "cgroup.controllers"));
    return [CGROUP_ROOT];
  } catch {
    const roots: string[] = [];
    for await (const entry of Deno.readDir(CGROUP_ROOT)) {
      if (entry.isDirectory) roots.push(join(CGROUP_ROOT, entry.name));
    }
    return roots;
  }
}

/** Cgroup `path` and every cgroup below it, deepest first. */
async function cgroupTree(path: string): Promise<string[]> {
  const below: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) {
        below.push(...await cgroupTree(join(path, entry.name)));
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return [...below, path];
}

/** The processes in any of `cgroups`. */
async function processesIn(cgroups: string[]): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const cgroup of cgroups) {
    const procs = await Deno.readTextFile(join(cgroup, "cgroup.procs"))
      .catch(() => "");
    for (const pid of procs.split("\n").filter(Boolean)) pids.add(+pid);
  }
  return pids;
}

/** The processes left in `cgroups` once they had time to leave. */
async function settledProcesses(cgroups: string[]): Promise<Set<number>> {
  const deadline = Date.now() + SETTLE_MS;
  let pids = await processesIn(cgroups);
  while (pids.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    pids = await processesIn(cgroups);
  }
  return pids;
}

/**
 * Removes cgroup `/NAMESPACE` and everything below it, in every hierarchy,
 * for each of `namespaces`. Processes still in them are thawed and killed:
 * the cgroups go either way. Returns what was wrong (empty when clean): the
 * processes that were left, the cgroups that could not be removed.
 */
export async function removeNamespaceCgroups(
  namespaces: Iterable<string>,
): Promise<string[]> {
  const cgroups: string[] = [];
  for (const root of await hierarchies()) {
    for (const namespace of namespaces) {
      cgroups.push(...await cgroupTree(join(root, namespace)));
    }
  }
  if (cgroups.length === 0) return [];
  const leaked = await settledProcesses(cgroups);
  if (leaked.size > 0) {
    // A frozen process dies of SIGKILL only once thawed (v1, then v2).
    for (const cgroup of cgroups) {
      await Deno.writeTextFile(join(cgroup, "freezer.state"), "THAWED")
        .catch(() => {});
      await Deno.writeTextFile(join(cgroup, "cgroup.freeze"), "0")
        .catch(() => {});
    }
    for (const pid of leaked) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await settledProcesses(cgroups);
  }
  const kept: string[] = [];
  for (const cgroup of cgroups) {
    try {
      await Deno.remove(cgroup);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        kept.push(`${cgroup}: ${err}`);
      }
    }
  }
  return [
    ...leaked.size > 0
      ? [`processes ${[...leaked].join(" ")} were left in them (killed)`]
      : [],
    ...kept.map((k) => `not removed: ${k}`),
  ];
}
