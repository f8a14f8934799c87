/**
 * Moving the shim into a cgroup (runc options' `shim_cgroup`), as
 * containerd's runc shim does: on cgroup v2 the one unified hierarchy, on
 * v1 every mounted hierarchy; and readying the kernel for the moves runc
 * makes (`primeMigration`).
 *
 * @module
 */
import { join } from "../types/path.ts";
import { BerthError, Code } from "../types/errors.ts";

/** Where the cgroup hierarchies are mounted. */
const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * Moves process `pid` (default: this one) into cgroup `path` (e.g.
 * `/shims/a`), which must exist in every hierarchy.
 *
 * @throws {BerthError} NotFound when the cgroup does not exist.
 */
export function joinCgroup(
  path: string,
  pid: number = Deno.pid,
  root: string = CGROUP_ROOT,
): Promise<void> {
  if (pid !== Deno.pid) return moveInto(path, pid, root);
  return ownMove(() => moveInto(path, pid, root));
}

/**
 * This process's own moves, one after the other: a prime never reads the
 * cgroup a join is leaving, nor writes it after the join.
 */
let ownMoves: Promise<unknown> = Promise.resolve();
/** The prime under way: a second would only wait for the same grace period. */
let priming: Promise<boolean> | undefined;

function ownMove<T>(move: () => Promise<T>): Promise<T> {
  const moved = ownMoves.then(move);
  ownMoves = moved.catch(() => {});
  return moved;
}

/**
 * Readies the kernel for a process that runc is about to move into a
 * container's cgroup (`runc create` its init, `runc exec` each exec'd
 * process, some 10 ms after it starts), by moving this process into the
 * cgroup it is in already (in the freezer hierarchy on v1, else the
 * unified one): nothing changes hands.
 *
 * Why: the kernel's lock on moves between cgroups is one per-cpu rwsem for
 * the whole host, whose writer, when none has written for a while, first
 * waits out an RCU grace period (~11 ms on an idle 2-core machine, measured
 * with scheduler events: runc asleep in its first `cgroup.procs` write,
 * both CPUs idle), then stays cheap for another grace period or two. Paid
 * here, that wait overlaps runc's own start-up instead of following it:
 * bare `runc exec -d` took 29 ms, 16 ms with a prime made 0–15 ms before.
 *
 * Resolves with whether the move was made; never fails: without the
 * hierarchy it does nothing (and creates no file). A prime asked for while
 * one is under way is that one: once it is made the kernel stays ready for
 * a grace period or more, which covers runc's move in the usual case (an
 * Exec's prime, then its Start a few ms later). That spares the shim a
 * second write (~0.1-0.3 ms of CPU each, from a blocking thread).
 */
export function primeMigration(root: string = CGROUP_ROOT): Promise<boolean> {
  priming ??= ownMove(async () => {
    try {
      const dir = cgroupDirOf(Deno.pid, "freezer", root);
      if (!dir) return false;
      await Deno.writeTextFile(join(dir, "cgroup.procs"), `${Deno.pid}\n`, {
        create: false,
      });
      return true;
    } finally {
      priming = undefined; // the next prime is another move
    }
  }).catch(() => false); // not a cgroup: runc pays the wait itself
  return priming;
}

async function moveInto(
  path: string,
  pid: number,
  root: string,
): Promise<void> {
  const relative = path.replace(/^\/+/, "");
  if (relative.split("/").includes("..")) {
    throw new BerthError(Code.InvalidArgument, `shim cgroup ${path}`);
  }
  const unified = await exists(join(root, "cgroup.controllers"));
  const hierarchies: string[] = [];
  if (unified) {
    hierarchies.push(root);
  } else {
    for await (const entry of Deno.readDir(root)) {
      // `unified` is the v2 tree a hybrid host mounts beside the v1 ones.
      if (entry.isDirectory && entry.name !== "unified") {
        hierarchies.push(join(root, entry.name));
      }
    }
  }
  for (const hierarchy of hierarchies) {
    const procs = join(hierarchy, relative, "cgroup.procs");
    if (!await exists(procs)) {
      throw new BerthError(
        Code.NotFound,
        `shim cgroup ${path} in ${hierarchy}`,
      );
    }
  }
  for (const hierarchy of hierarchies) {
    await Deno.writeTextFile(
      join(hierarchy, relative, "cgroup.procs"),
      `${pid}\n`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The directory of process `pid`'s cgroup in the v1 hierarchy of
 * `controller` (mounted at ROOT/CONTROLLER), else in the unified one;
 * undefined when `pid` has exited.
 */
export function cgroupDirOf(
  pid: number,
  controller: string,
  root: string = CGROUP_ROOT,
): string | undefined {
  let text;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return undefined;
  }
  const lines = text.trim().split("\n").map((l) => l.split(":"));
  const v1 = lines.find(([, controllers]) =>
    controllers?.split(",").includes(controller)
  );
  if (v1) return join(root, controller, v1[2]);
  const unified = lines.find(([id]) => id === "0");
  return unified ? join(root, unified[2]) : undefined;
}

/** The pids listed in `procs` (a `cgroup.procs` file); none once gone. */
export function cgroupMembers(procs: string): number[] {
  let text;
  try {
    text = Deno.readTextFileSync(procs);
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l).map(Number);
}
