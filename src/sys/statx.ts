/**
 * `lstat` with nanosecond timestamps, through `statx(2)` (`Deno.lstat`
 * rounds times to milliseconds and has no device numbers split into major
 * and minor), and the file type bits of `st_mode`.
 *
 * @module
 */
import { cString, errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  statx: {
    parameters: ["i32", "buffer", "i32", "u32", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

const symbols = libcSymbols(SYMBOLS);

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;

/** The mask of the file type bits of `st_mode`. */
export const S_IFMT = 0o170000;

/** File type bits of `st_mode` (and of `mknod`'s mode). */
export const FileType = {
  /** Socket. */
  S_IFSOCK: 0o140000,
  /** Symbolic link. */
  S_IFLNK: 0o120000,
  /** Regular file. */
  S_IFREG: 0o100000,
  /** Block device. */
  S_IFBLK: 0o060000,
  /** Directory. */
  S_IFDIR: 0o040000,
  /** Character device. */
  S_IFCHR: 0o020000,
  /** FIFO. */
  S_IFIFO: 0o010000,
} as const;

/** The file type bits of a mode: one of {@linkcode FileType}'s values. */
export function fileType(mode: number): number {
  return mode & S_IFMT;
}

/** What `lstat` says about one file, with nanosecond mtime. */
export interface FileStat {
  /** `st_mode`: file type bits and permission bits (with setuid/setgid/sticky). */
  mode: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Size in bytes (for symlinks, the target's length). */
  size: number;
  /** Number of hard links. */
  nlink: number;
  /** Inode number. */
  ino: bigint;
  /** Device holding the file, as `major:minor`. */
  dev: string;
  /** Modification time, whole seconds since the epoch. */
  mtimeSec: number;
  /** Nanoseconds part of the modification time. */
  mtimeNsec: number;
  /** For character and block devices, the device's major number. */
  rdevMajor: number;
  /** For character and block devices, the device's minor number. */
  rdevMinor: number;
}

const buffer = new Uint8Array(256);
const view = new DataView(buffer.buffer);

/**
 * Stats `path` without following a final symlink.
 *
 * @throws {SyscallError} `lstat PATH: …` when the call fails (`ENOENT`,
 *   `EACCES` …).
 */
export function lstatx(path: string): FileStat {
  const rc = symbols().statx(
    AT_FDCWD,
    cString(path),
    AT_SYMLINK_NOFOLLOW,
    STATX_BASIC_STATS,
    buffer,
  );
  if (rc !== 0) throw new SyscallError(`lstat ${path}`, errno());
  return {
    nlink: view.getUint32(16, true),
    uid: view.getUint32(20, true),
    gid: view.getUint32(24, true),
    mode: view.getUint16(28, true),
    ino: view.getBigUint64(32, true),
    size: Number(view.getBigUint64(40, true)),
    mtimeSec: Number(view.getBigInt64(112, true)),
    mtimeNsec: view.getUint32(120, true),
    rdevMajor: view.getUint32(128, true),
    rdevMinor: view.getUint32(132, true),
    dev: `${view.getUint32(136, true)}:${view.getUint32(140, true)}`,
  };
}
