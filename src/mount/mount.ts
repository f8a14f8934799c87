/**
 * Performs {@linkcode Mount}s: `mount(2)` for most, the new mount API for
 * overlays, with bind remounts and propagation applied the way containerd
 * does.
 *
 * @module
 */
import { invalidArgument, type Mount } from "../types/mod.ts";
import { MNT, mount as mount2, MS, umount2 } from "../sys/mod.ts";
import { relabel } from "./_errors.ts";
import { parseMountOptions } from "./options.ts";
import { mountOverlay } from "./overlay.ts";
import { resolveInRoot } from "./root_path.ts";

/** The most data `mount(2)` copies from user space: one page. */
const PAGE_SIZE = 4096;

/** Per-mount flags a bind remount can change. */
const BIND_REMOUNT_FLAGS = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC |
  MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME | MS.NOSYMFOLLOW;

/** Options for {@linkcode mount} and {@linkcode mountAll}. */
export interface MountOptions {
  /**
   * Mount overlays through fsopen/fsconfig/fsmount/move_mount, one
   * `lowerdir+` per layer (default true). False uses `mount(2)` with the
   * data string, which must fit in a page (about 40 layers at most). Either
   * way `mount(2)` is used when the kernel lacks the new API.
   */
  newMountApi?: boolean;
}

/**
 * Mounts `m` on `target` (or on `m.target` resolved inside `target`, when
 * set). Bind mounts (`bind`, `rbind`) are remounted when they ask for
 * per-mount flags (`ro`, `nosuid` …), which a bind ignores; a propagation
 * option (`rprivate` …) is applied in its own call. If a later step fails,
 * the mount is undone.
 *
 * @throws {SyscallError} `mount TYPE on TARGET: <strerror>`.
 * @throws {BerthError} `InvalidArgument` when the options do not fit in a
 *   page for `mount(2)`, `Unimplemented` for `loop`.
 */
export function mount(
  m: Mount,
  target: string,
  options: MountOptions = {},
): Promise<void> {
  try {
    mountSync(m, target, options);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Mounts `mounts` on `target` in order (later ones over earlier ones). When
 * one fails, those already mounted are detached again before the error is
 * thrown.
 */
export function mountAll(
  mounts: readonly Mount[],
  target: string,
  options: MountOptions = {},
): Promise<void> {
  const done: string[] = [];
  try {
    for (const m of mounts) done.push(mountSync(m, target, options));
    return Promise.resolve();
  } catch (err) {
    for (const path of done.reverse()) {
      try {
        umount2(path, MNT.DETACH);
      } catch {
        // Best effort: the original error matters more.
      }
    }
    return Promise.reject(err);
  }
}

/** Mounts `m` at `root` (or its sub-path); returns where. */
function mountSync(m: Mount, root: string, options: MountOptions): string {
  const target = m.target ? resolveInRoot(root, m.target) : root;
  const label = `mount ${m.type} on ${target}`;
  const parsed = parseMountOptions(m.options);
  const { flags, propagation } = parsed;
  const bind = (flags & MS.BIND) !== 0;
  const remount = (flags & MS.REMOUNT) !== 0;

  const overlay = m.type === "overlay" && !bind && !remount &&
    options.newMountApi !== false &&
    mountOverlay(m.source, target, parsed, label);
  if (!overlay) {
    const data = parsed.data.join(",");
    const size = new TextEncoder().encode(data).length;
    if (size >= PAGE_SIZE) {
      throw invalidArgument(`${label}: options too long (${size} bytes)`);
    }
    try {
      mount2(m.source, target, m.type, flags, data === "" ? null : data);
    } catch (err) {
      throw relabel(err, label);
    }
  }
  try {
    if (propagation !== 0) mount2(null, target, null, propagation, null);
    if (bind && !remount && (flags & BIND_REMOUNT_FLAGS) !== 0) {
      const remountFlags = (flags & ~MS.REC) | MS.REMOUNT;
      mount2(null, target, null, remountFlags, null);
    }
  } catch (err) {
    if (!remount) {
      try {
        umount2(target, MNT.DETACH);
      } catch {
        // Best effort: the original error matters more.
      }
    }
    throw relabel(err, label);
  }
  return target;
}
