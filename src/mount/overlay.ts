/**
 * Overlay mounts through the new mount API: one `fsconfig` per layer
 * (`lowerdir+`, kernel 6.8+), so the number of layers is not limited by the
 * one page `mount(2)` copies of its data string.
 *
 * @module
 */
import {
  AT_FDCWD,
  closeFd,
  Errno,
  FSCONFIG,
  fsconfig,
  FSCONFIG_MAX_STRING,
  fsmount,
  FSMOUNT_CLOEXEC,
  fsopen,
  isErrno,
  MOUNT_ATTR,
  MOVE_MOUNT_F_EMPTY_PATH,
  moveMount,
  MS,
  openPath,
  readFsLog,
} from "../sys/mod.ts";
import { relabel } from "./_errors.ts";
import type { ParsedMountOptions } from "./options.ts";

/** The layers of a `lowerdir=` value. */
export interface Lowerdirs {
  /** Lower layers, topmost first. */
  lower: string[];
  /** Data-only layers (after `::`), topmost first. */
  data: string[];
}

/**
 * Splits a `lowerdir=` value the way overlayfs does: `:` between layers,
 * `::` before data-only layers, a backslash escapes the next character.
 */
export function splitLowerdir(value: string): Lowerdirs {
  const out: Lowerdirs = { lower: [], data: [] };
  let list = out.lower;
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === "\\" && i + 1 < value.length) {
      current += value[++i];
    } else if (ch === ":") {
      list.push(current);
      current = "";
      if (value[i + 1] === ":") {
        list = out.data;
        i++;
      }
    } else {
      current += ch;
    }
  }
  list.push(current);
  return out;
}

/** Per-mount flags and their `MOUNT_ATTR_*` (atime handled apart). */
const ATTRS: readonly [number, number][] = [
  [MS.RDONLY, MOUNT_ATTR.RDONLY],
  [MS.NOSUID, MOUNT_ATTR.NOSUID],
  [MS.NODEV, MOUNT_ATTR.NODEV],
  [MS.NOEXEC, MOUNT_ATTR.NOEXEC],
  [MS.NODIRATIME, MOUNT_ATTR.NODIRATIME],
  [MS.NOSYMFOLLOW, MOUNT_ATTR.NOSYMFOLLOW],
];

/** Superblock flags and their generic `fsconfig` flag names. */
const SB_FLAGS: readonly [number, string][] = [
  [MS.RDONLY, "ro"],
  [MS.SYNCHRONOUS, "sync"],
  [MS.DIRSYNC, "dirsync"],
  [MS.LAZYTIME, "lazytime"],
  [MS.MANDLOCK, "mand"],
];

/** Options whose value is a directory (passed by fd when too long). */
const DIR_KEYS = new Set(["upperdir", "workdir", "lowerdir+", "datadir+"]);

function mountAttrs(flags: number): number {
  let attrs = 0;
  for (const [flag, attr] of ATTRS) if (flags & flag) attrs |= attr;
  // As mount(2) does: strictatime beats noatime beats the relatime default.
  if (flags & MS.STRICTATIME) attrs |= MOUNT_ATTR.STRICTATIME;
  else if (flags & MS.NOATIME) attrs |= MOUNT_ATTR.NOATIME;
  return attrs;
}

class Unsupported extends Error {}

/**
 * Mounts overlayfs `source` on `target` with fsopen/fsconfig/fsmount/
 * move_mount. Returns false, having changed nothing, when the kernel lacks
 * the new mount API or `lowerdir+`, for the caller to fall back to
 * `mount(2)`. Directories longer than `fsconfig` strings allow (255 bytes)
 * are passed as `O_PATH` fds (kernel 6.13+).
 *
 * @throws {SyscallError} `LABEL: <strerror> (<option>; <kernel messages>)`.
 */
export function mountOverlay(
  source: string,
  target: string,
  parsed: ParsedMountOptions,
  label: string,
): boolean {
  let fd: number;
  try {
    fd = fsopen("overlay");
  } catch (err) {
    if (isErrno(err, Errno.ENOSYS)) return false;
    throw relabel(err, label);
  }
  const fds: number[] = [];
  let step = "";
  let layers = 0;
  const setDir = (key: string, path: string) => {
    step = `${key}=${path}`;
    if (new TextEncoder().encode(path).length <= FSCONFIG_MAX_STRING) {
      try {
        fsconfig(fd, FSCONFIG.SET_STRING, key, path);
      } catch (err) {
        // An old overlayfs rejects "lowerdir+" itself: fall back.
        if (key === "lowerdir+" && layers === 0 && isErrno(err, Errno.EINVAL)) {
          throw new Unsupported();
        }
        throw err;
      }
    } else {
      const dir = openPath(path);
      fds.push(dir);
      fsconfig(fd, FSCONFIG.SET_FD, key, null, dir);
    }
    if (key === "lowerdir+") layers++;
  };
  try {
    step = "source";
    fsconfig(fd, FSCONFIG.SET_STRING, "source", source || "overlay");
    for (const option of parsed.data) {
      const eq = option.indexOf("=");
      if (eq < 0) {
        step = option;
        fsconfig(fd, FSCONFIG.SET_FLAG, option);
        continue;
      }
      const key = option.slice(0, eq);
      const value = option.slice(eq + 1);
      if (key === "lowerdir") {
        const { lower, data } = splitLowerdir(value);
        for (const dir of lower) setDir("lowerdir+", dir);
        for (const dir of data) setDir("datadir+", dir);
      } else if (DIR_KEYS.has(key)) {
        setDir(key, value);
      } else {
        step = option;
        fsconfig(fd, FSCONFIG.SET_STRING, key, value);
      }
    }
    for (const [flag, name] of SB_FLAGS) {
      if (parsed.flags & flag) {
        step = name;
        fsconfig(fd, FSCONFIG.SET_FLAG, name);
      }
    }
    step = "";
    fsconfig(fd, FSCONFIG.CMD_CREATE, null);
    const mnt = fsmount(fd, FSMOUNT_CLOEXEC, mountAttrs(parsed.flags));
    try {
      moveMount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    } finally {
      closeFd(mnt);
    }
    return true;
  } catch (err) {
    if (err instanceof Unsupported) return false;
    const log = readFsLog(fd).map((line) =>
      line.replace(/^e /, "").replace(/^w /, "warning: ").replace(/^i /, "")
    );
    throw relabel(err, label, [step, ...log]);
  } finally {
    for (const dir of fds) closeFd(dir);
    closeFd(fd);
  }
}
