/**
 * File-system calls Deno does not offer, or offers only in a form that
 * follows symbolic links: `mknod`, `lchown`, `fchmodat` and `utimensat` with
 * `AT_SYMLINK_NOFOLLOW`, and the `l*xattr` family.
 *
 * This file keeps its own symbol table, loaded through
 * {@linkcode libcSymbols} (the same library, so `errno` from `./libc.ts` is
 * the right one). Every
 * call is synchronous and throws {@linkcode SyscallError} on failure.
 *
 * @module
 */
import { cString, errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  lsetxattr: {
    parameters: ["buffer", "buffer", "buffer", "usize", "i32"],
    result: "i32",
  },
  lgetxattr: {
    parameters: ["buffer", "buffer", "buffer", "usize"],
    result: "isize",
  },
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const fsx = libcSymbols(SYMBOLS);

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

/** errno values the file-system helpers check for by name. */
export const FsErrno = {
  EPERM: 1,
  ENOENT: 2,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ENOTSUP: 95,
} as const;

/** The Linux `dev_t` for a device's major and minor numbers (glibc's makedev). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) |
    ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** The major and minor numbers of a Linux `dev_t`. */
export function splitdev(dev: number | bigint): [number, number] {
  const d = BigInt(dev);
  const major = ((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn);
  const minor = ((d >> 12n) & 0xffffff00n) | (d & 0xffn);
  return [Number(major), Number(minor)];
}

/** Options of {@linkcode mknod}. */
export interface MknodOptions {
  /** The type bits (`FileType.S_IFIFO`, `S_IFCHR`… from `./statx.ts`). */
  type: number;
  /** Permission bits (the umask applies). */
  mode: number;
  /** Device major number (character and block devices). */
  major?: number;
  /** Device minor number (character and block devices). */
  minor?: number;
}

/**
 * Creates a FIFO or device node at `path`. Like every creation call, it fails
 * with EEXIST rather than follow a symbolic link in the last component.
 */
export function mknod(path: string, options: MknodOptions): void {
  const mode = (options.type & 0o170000) | (options.mode & 0o7777);
  const dev = makedev(options.major ?? 0, options.minor ?? 0);
  if (fsx().mknod(cString(path), mode, dev) !== 0) {
    throw new SyscallError(`mknod ${path}`, errno());
  }
}

/** Changes the owner of `path` itself, never of what a symlink points to. */
export function lchown(path: string, uid: number, gid: number): void {
  if (fsx().lchown(cString(path), uid >>> 0, gid >>> 0) !== 0) {
    throw new SyscallError(`lchown ${path}`, errno());
  }
}

/**
 * Changes the mode of `path` without following a symlink in the last
 * component. Linux cannot change a symlink's mode: for one this fails with
 * EOPNOTSUPP.
 */
export function lchmod(path: string, mode: number): void {
  const rc = fsx().fchmodat(
    AT_FDCWD,
    cString(path),
    mode & 0o7777,
    AT_SYMLINK_NOFOLLOW,
  );
  if (rc !== 0) throw new SyscallError(`lchmod ${path}`, errno());
}

/** A time for {@linkcode lutimes}: seconds and nanoseconds since the epoch. */
export interface Timespec {
  /** Whole seconds. */
  sec: number;
  /** Nanoseconds, 0 to 999999999. */
  nsec: number;
}

/** Sets access and modification times of `path` itself (never through a symlink). */
export function lutimes(path: string, atime: Timespec, mtime: Timespec): void {
  const times = new BigInt64Array([
    BigInt(Math.trunc(atime.sec)),
    BigInt(Math.trunc(atime.nsec)),
    BigInt(Math.trunc(mtime.sec)),
    BigInt(Math.trunc(mtime.nsec)),
  ]);
  const rc = fsx().utimensat(
    AT_FDCWD,
    cString(path),
    new Uint8Array(times.buffer),
    AT_SYMLINK_NOFOLLOW,
  );
  if (rc !== 0) throw new SyscallError(`lutimes ${path}`, errno());
}

/** Options of {@linkcode lsetxattr}. */
export interface SetXattrOptions {
  /** Fail with EEXIST when the attribute exists (XATTR_CREATE). */
  create?: boolean;
  /** Fail with ENODATA when it does not (XATTR_REPLACE). */
  replace?: boolean;
}

/** Sets extended attribute `name` on `path` itself (never through a symlink). */
export function lsetxattr(
  path: string,
  name: string,
  value: Uint8Array,
  options: SetXattrOptions = {},
): void {
  const flags = (options.create ? 1 : 0) | (options.replace ? 2 : 0);
  // An empty buffer would pass a null pointer; give it one byte of room.
  const data = value.byteLength > 0 ? value : new Uint8Array(1);
  const rc = fsx().lsetxattr(
    cString(path),
    cString(name),
    data as Uint8Array<ArrayBuffer>,
    BigInt(value.byteLength),
    flags,
  );
  if (rc !== 0) throw new SyscallError(`lsetxattr ${path} ${name}`, errno());
}

/**
 * The value of extended attribute `name` of `path` itself, or undefined when
 * it is not set.
 */
export function lgetxattr(path: string, name: string): Uint8Array | undefined {
  const p = cString(path);
  const n = cString(name);
  for (;;) {
    const size = Number(fsx().lgetxattr(p, n, null, 0n));
    if (size < 0) {
      const code = errno();
      if (code === FsErrno.ENODATA) return undefined;
      throw new SyscallError(`lgetxattr ${path} ${name}`, code);
    }
    const buffer = new Uint8Array(Math.max(size, 1));
    const got = Number(fsx().lgetxattr(p, n, buffer, BigInt(size)));
    if (got >= 0) return buffer.subarray(0, got);
    const code = errno();
    if (code === FsErrno.ENODATA) return undefined;
    if (code !== 34 /* ERANGE: it grew in between */) {
      throw new SyscallError(`lgetxattr ${path} ${name}`, code);
    }
  }
}

/** The names of the extended attributes of `path` itself. */
export function llistxattr(path: string): string[] {
  const p = cString(path);
  for (;;) {
    const size = Number(fsx().llistxattr(p, null, 0n));
    if (size < 0) throw new SyscallError(`llistxattr ${path}`, errno());
    if (size === 0) return [];
    const buffer = new Uint8Array(size);
    const got = Number(fsx().llistxattr(p, buffer, BigInt(size)));
    if (got < 0) {
      const code = errno();
      if (code === 34) continue;
      throw new SyscallError(`llistxattr ${path}`, code);
    }
    return new TextDecoder().decode(buffer.subarray(0, got)).split("\0")
      .filter((name) => name !== "");
  }
}
