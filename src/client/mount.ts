/**
 * Mounting snapshots on the client's host with `mount(8)`, as ctr does
 * (`images mount`, and building a spec that resolves users in the
 * rootfs). The client runs as root on the daemon's host for these.
 *
 * @module
 */
import { isMountPoint } from "../mount/mountinfo.ts";
import type { Mount } from "../types/mount.ts";

/**
 * Runs a command; throws with its stderr when it fails.
 *
 * @example
 * ```ts
 * import { runTool } from "@berth/berth/client";
 * await runTool("true", []);
 * ```
 */
export async function runTool(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(
      `${cmd} ${args.join(" ")}: ${stderr || `exit ${out.code}`}`,
    );
  }
}

/**
 * The `mount(8)` arguments for one mount. Options go in one `-o`: an
 * overlay of many layers can exceed a page, which mount(8) then refuses
 * (containerd's own mount code works around that; this client does not).
 *
 * @example
 * ```ts
 * import { mountArgs } from "@berth/berth/client";
 * console.log(mountArgs({ type: "bind", source: "/a", options: ["rbind"] }, "/mnt"));
 * ```
 */
export function mountArgs(m: Mount, target: string): string[] {
  const bind = m.options.some((o) => o === "bind" || o === "rbind");
  const type = bind ? "none" : m.type;
  return [
    "-t",
    type,
    ...(m.options.length ? ["-o", m.options.join(",")] : []),
    m.source,
    target,
  ];
}

/**
 * Mounts `mounts` on `target`, in order.
 *
 * @example
 * ```ts
 * import { mountAll } from "@berth/berth/client";
 * await mountAll([{ type: "tmpfs", source: "tmpfs", options: [] }], "/mnt");
 * ```
 */
export async function mountAll(
  mounts: readonly Mount[],
  target: string,
): Promise<void> {
  for (const m of mounts) await runTool("mount", mountArgs(m, target));
}

/**
 * Unmounts everything mounted on `target` (ctr's `mount.UnmountAll`).
 *
 * @example
 * ```ts
 * import { unmountAll } from "@berth/berth/client";
 * await unmountAll("/mnt");
 * ```
 */
export async function unmountAll(target: string): Promise<void> {
  let path: string;
  try {
    path = await Deno.realPath(target);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  while (isMountPoint(path)) await runTool("umount", [path]);
}

/**
 * Runs `fn` with `mounts` mounted on a temporary directory, unmounted and
 * removed afterwards.
 *
 * @example
 * ```ts
 * import { withTempMount } from "@berth/berth/client";
 * await withTempMount([{ type: "tmpfs", source: "tmpfs", options: [] }], async (root) => {
 *   console.log(await Deno.stat(root));
 * });
 * ```
 */
export async function withTempMount<T>(
  mounts: readonly Mount[],
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const root = await Deno.makeTempDir({ prefix: "berth-client-mount-" });
  try {
    await mountAll(mounts, root);
    return await fn(root);
  } finally {
    await unmountAll(root);
    await Deno.remove(root);
  }
}
