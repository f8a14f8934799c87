/**
 * Bindings to the mount system calls: `mount(2)`, `umount2(2)` and the new
 * mount API (`fsopen`, `fsconfig`, `fsmount`, `move_mount`), which glibc
 * 2.36 wraps.
 *
 * Every call is synchronous, on the calling thread, so `errno` read right
 * after it belongs to it. Failures throw {@linkcode SyscallError}.
 *
 * @module
 */
import { cString, errno, libc, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  mount: {
    parameters: ["buffer", "buffer", "buffer", "usize", "buffer"],
    result: "i32",
  },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  fsopen: { parameters: ["buffer", "u32"], result: "i32" },
  fsconfig: {
    parameters: ["i32", "u32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  fsmount: { parameters: ["i32", "u32", "u32"], result: "i32" },
  move_mount: {
    parameters: ["i32", "buffer", "i32", "buffer", "u32"],
    result: "i32",
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const sys = libcSymbols(SYMBOLS);

/** `mount(2)` flags (`MS_*`). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** `umount2(2)` flags. */
export const MNT = {
  FORCE: 0x1,
  DETACH: 0x2,
  EXPIRE: 0x4,
  /** `UMOUNT_NOFOLLOW`: do not follow a symlink at the target. */
  NOFOLLOW: 0x8,
} as const;

/** `fsconfig(2)` commands (`FSCONFIG_*`). */
export const FSCONFIG = {
  SET_FLAG: 0,
  SET_STRING: 1,
  SET_BINARY: 2,
  SET_PATH: 3,
  SET_PATH_EMPTY: 4,
  SET_FD: 5,
  CMD_CREATE: 6,
  CMD_RECONFIGURE: 7,
  CMD_CREATE_EXCL: 8,
} as const;

/** Per-mount attributes for `fsmount(2)` (`MOUNT_ATTR_*`). */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/** `FSOPEN_CLOEXEC`. */
export const FSOPEN_CLOEXEC = 0x1;
/** `FSMOUNT_CLOEXEC`. */
export const FSMOUNT_CLOEXEC = 0x1;
/** `MOVE_MOUNT_F_EMPTY_PATH`: the source is the fd itself. */
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
/** `AT_FDCWD`: paths relative to the working directory. */
export const AT_FDCWD = -100;

/** The largest string `fsconfig(FSCONFIG_SET_STRING)` takes, in bytes. */
export const FSCONFIG_MAX_STRING = 255;

const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;

function text(value: string | null): Uint8Array<ArrayBuffer> | null {
  return value === null ? null : cString(value);
}

/**
 * `mount(2)`. `null` passes NULL (no source, no type, no data).
 *
 * @throws {SyscallError} `mount TYPE on TARGET: …`.
 */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  const r = sys().mount(
    text(source),
    cString(target),
    text(fstype),
    BigInt(flags),
    text(data),
  );
  if (r !== 0) {
    throw new SyscallError(`mount ${fstype ?? ""} on ${target}`, errno());
  }
}

/**
 * `umount2(2)` with {@linkcode MNT} flags.
 *
 * @throws {SyscallError} `umount TARGET: …`.
 */
export function umount2(target: string, flags: number): void {
  if (sys().umount2(cString(target), flags) !== 0) {
    throw new SyscallError(`umount ${target}`, errno());
  }
}

/**
 * `fsopen(2)`: a filesystem context for `fsName`; close it with
 * {@linkcode closeFd}.
 *
 * @throws {SyscallError} `fsopen NAME: …` (ENOSYS on kernels before 5.2).
 */
export function fsopen(fsName: string, flags: number = FSOPEN_CLOEXEC): number {
  const fd = sys().fsopen(cString(fsName), flags);
  if (fd < 0) throw new SyscallError(`fsopen ${fsName}`, errno());
  return fd;
}

/**
 * `fsconfig(2)`. `value` is a string for `SET_STRING`/`SET_PATH`, `null`
 * otherwise; `aux` is the fd for `SET_FD` or the dirfd for `SET_PATH`.
 *
 * @throws {SyscallError} `fsconfig KEY: …`; the kernel's reason, if any,
 *   can then be read with {@linkcode readFsLog}.
 */
export function fsconfig(
  fd: number,
  cmd: number,
  key: string | null,
  value: string | null = null,
  aux = 0,
): void {
  if (sys().fsconfig(fd, cmd, text(key), text(value), aux) !== 0) {
    throw new SyscallError(`fsconfig ${key ?? `cmd ${cmd}`}`, errno());
  }
}

/**
 * `fsmount(2)`: a detached mount of the created superblock, with
 * {@linkcode MOUNT_ATTR} attributes; returns its fd.
 *
 * @throws {SyscallError} `fsmount: …`.
 */
export function fsmount(
  fd: number,
  flags: number = FSMOUNT_CLOEXEC,
  attrs = 0,
): number {
  const mfd = sys().fsmount(fd, flags, attrs);
  if (mfd < 0) throw new SyscallError("fsmount", errno());
  return mfd;
}

/**
 * `move_mount(2)`. With `fromPath` empty and
 * {@linkcode MOVE_MOUNT_F_EMPTY_PATH}, attaches the mount `fromFd` refers
 * to at `toPath`.
 *
 * @throws {SyscallError} `move_mount to TO: …`.
 */
export function moveMount(
  fromFd: number,
  fromPath: string,
  toFd: number,
  toPath: string,
  flags: number,
): void {
  const r = sys().move_mount(
    fromFd,
    cString(fromPath),
    toFd,
    cString(toPath),
    flags,
  );
  if (r !== 0) throw new SyscallError(`move_mount to ${toPath}`, errno());
}

/**
 * Drains the message log of a filesystem context: the kernel's reasons for a
 * failed `fsconfig`, each prefixed `e `, `w ` or `i ` (error, warning,
 * info). Never throws.
 */
export function readFsLog(fd: number): string[] {
  const messages: string[] = [];
  const buffer = new Uint8Array(1024);
  for (let i = 0; i < 64; i++) {
    const n = Number(sys().read(fd, buffer, BigInt(buffer.length)));
    if (n <= 0) break;
    messages.push(new TextDecoder().decode(buffer.subarray(0, n)).trimEnd());
  }
  return messages;
}

/**
 * Opens directory `path` with `O_PATH` (no read permission needed), for
 * `fsconfig(FSCONFIG_SET_FD)`; close it with {@linkcode closeFd}.
 *
 * @throws {SyscallError} `open PATH: …`.
 */
export function openPath(path: string): number {
  const fd = libc().open(cString(path), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError(`open ${path}`, errno());
  return fd;
}

/** `close(2)`; never throws (Linux frees the fd even on EINTR). */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** True when `err` is a {@linkcode SyscallError} with errno `code`. */
export function isErrno(err: unknown, code: number): err is SyscallError {
  return err instanceof SyscallError && err.errno === code;
}
