/**
 * The extended attributes a layer carries for a path: read without
 * following a final symlink, through a name filter, sorted by name. A file
 * system without xattr support simply has none.
 *
 * @module
 */
import { FsErrno, lgetxattr, llistxattr } from "../sys/fsx.ts";
import { SyscallError } from "../sys/libc.ts";

/**
 * The extended attributes of `path` whose names `accept` takes, sorted by
 * name; empty when the file system does not support them.
 *
 * @throws {SyscallError} on any other failure.
 */
export function readXattrs(
  path: string,
  accept: (name: string) => boolean,
): [name: string, value: Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const names = unlessUnsupported(() => llistxattr(path)) ?? [];
  for (const name of names.filter(accept).sort()) {
    const value = unlessUnsupported(() => lgetxattr(path, name));
    if (value !== undefined) out.push([name, value]);
  }
  return out;
}

/** `read()`, or `undefined` when it fails with ENOTSUP. */
function unlessUnsupported<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof SyscallError && err.errno === FsErrno.ENOTSUP) {
      return undefined;
    }
    throw err;
  }
}
