/**
 * Unmounting: one mount, a stack of mounts on one path, or a whole subtree.
 *
 * @module
 */
import { Errno, isErrno, MNT, umount2 } from "../sys/mod.ts";
import { failedPrecondition } from "../types/mod.ts";
import { canonicalPath, mountsUnder } from "./mountinfo.ts";

/** Options for the unmount functions. */
export interface UnmountOptions {
  /**
   * Detach lazily (`MNT_DETACH`): the mount leaves the tree now and goes
   * away when no longer busy. Default false.
   */
  detach?: boolean;
}

/** How often, and how far apart, a busy unmount is tried (as containerd). */
const BUSY_ATTEMPTS = 50;
const BUSY_DELAY_MS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One `umount2`, retried while the mount is busy. True when something was
 * unmounted, false when `target` is not a mount point (EINVAL).
 */
async function unmountOnce(target: string, flags: number): Promise<boolean> {
  for (let attempt = 1;; attempt++) {
    try {
      umount2(target, flags);
      return true;
    } catch (err) {
      if (isErrno(err, Errno.EINVAL)) return false;
      if (!isErrno(err, Errno.EBUSY) || attempt >= BUSY_ATTEMPTS) throw err;
    }
    await sleep(BUSY_DELAY_MS);
  }
}

function umountFlags(options: UnmountOptions): number {
  return options.detach ? MNT.DETACH : 0;
}

/**
 * Unmounts the topmost mount on `target`. Nothing happens when `target` is
 * not a mount point. EBUSY is retried for a few seconds.
 *
 * @throws {SyscallError} `umount TARGET: <strerror>` (ENOENT when missing).
 */
export async function unmount(
  target: string,
  options: UnmountOptions = {},
): Promise<void> {
  await unmountOnce(target, umountFlags(options));
}

/**
 * Unmounts `target` until it is no longer a mount point, undoing a stack
 * of mounts on it. Nothing happens when `target` is empty or missing.
 *
 * @throws {SyscallError} `umount TARGET: <strerror>`.
 */
export async function unmountAll(
  target: string,
  options: UnmountOptions = {},
): Promise<void> {
  if (target === "") return;
  const flags = umountFlags(options);
  try {
    while (await unmountOnce(target, flags));
  } catch (err) {
    if (!isErrno(err, Errno.ENOENT)) throw err;
  }
}

/**
 * Unmounts every mount at `target` or below it, read from mountinfo: leaves
 * first, the most recent first, so stacked mounts and mounts hidden under
 * them all go. Nothing happens when `target` is empty or nothing is there.
 *
 * @throws {SyscallError} `umount PATH: <strerror>` when a pass makes no
 *   progress; {@linkcode BerthError} `FailedPrecondition` when mounts remain
 *   that cannot be reached by path.
 */
export async function unmountRecursive(
  target: string,
  options: UnmountOptions = {},
): Promise<void> {
  if (target === "") return;
  const root = canonicalPath(target);
  const flags = umountFlags(options);
  for (;;) {
    const mounts = mountsUnder(root);
    if (mounts.length === 0) return;
    const parents = new Set(mounts.map((m) => m.parent));
    const leaves = mounts.filter((m) => !parents.has(m.id)).reverse();
    let progress = false;
    let failure: unknown;
    for (const leaf of leaves) {
      try {
        // A path shadowed by a later mount hits that one, or EINVAL/ENOENT;
        // either way the next pass sees the table as it now is.
        if (await unmountOnce(leaf.mountPoint, flags)) progress = true;
      } catch (err) {
        if (!isErrno(err, Errno.ENOENT)) failure ??= err;
      }
    }
    if (!progress) {
      throw failure ??
        failedPrecondition(`unmount ${root}: ${mounts.length} mounts remain`);
    }
  }
}
