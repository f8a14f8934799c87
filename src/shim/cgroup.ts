/**
 * Moving the shim into a cgroup (runc options' `shim_cgroup`), as
 * containerd's runc shim does: on cgroup v2 the one unified hierarchy, on
 * v1 every mounted hierarchy.
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
export async function joinCgroup(
  path: string,
  pid: number = Deno.pid,
  root: string = CGROUP_ROOT,
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
