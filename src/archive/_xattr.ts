/**
 * Extended attributes of a path, without following a final symlink
 * (`llistxattr`, `lgetxattr`, `lsetxattr` over Deno FFI). Deno has no xattr
 * API of its own.
 *
 * @module
 */
import { cString, errno, SyscallError } from "../sys/libc.ts";

const SYMBOLS = {
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  lgetxattr: {
    parameters: ["buffer", "buffer", "buffer", "usize"],
    result: "isize",
  },
  lsetxattr: {
    parameters: ["buffer", "buffer", "buffer", "usize", "i32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

const ERANGE = 34;
const ENODATA = 61;
const ENOTSUP = 95;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function symbols(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  library ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return library.symbols;
}

/**
 * The names of `path`'s extended attributes, sorted; empty when the file
 * system has none or does not support them.
 *
 * @throws {SyscallError} on any other failure.
 */
export function listXattrs(path: string): string[] {
  const s = symbols();
  const cpath = cString(path);
  for (;;) {
    const need = Number(s.llistxattr(cpath, null, 0n));
    if (need < 0) {
      const code = errno();
      if (code === ENOTSUP) return [];
      throw new SyscallError(`llistxattr ${path}`, code);
    }
    if (need === 0) return [];
    const buf = new Uint8Array(need);
    const got = Number(s.llistxattr(cpath, buf, BigInt(need)));
    if (got < 0) {
      const code = errno();
      if (code === ERANGE) continue; // grew in between: ask again
      throw new SyscallError(`llistxattr ${path}`, code);
    }
    const names = new TextDecoder().decode(buf.subarray(0, got)).split("\0");
    return names.filter((name) => name !== "").sort();
  }
}

/**
 * The value of `path`'s extended attribute `name`, or `undefined` when it is
 * not set.
 *
 * @throws {SyscallError} on any other failure.
 */
export function getXattr(path: string, name: string): Uint8Array | undefined {
  const s = symbols();
  const cpath = cString(path);
  const cname = cString(name);
  for (;;) {
    const need = Number(s.lgetxattr(cpath, cname, null, 0n));
    if (need < 0) {
      const code = errno();
      if (code === ENODATA || code === ENOTSUP) return undefined;
      throw new SyscallError(`lgetxattr ${path} ${name}`, code);
    }
    const buf = new Uint8Array(need);
    if (need === 0) return buf;
    const got = Number(s.lgetxattr(cpath, cname, buf, BigInt(need)));
    if (got < 0) {
      const code = errno();
      if (code === ERANGE) continue;
      if (code === ENODATA) return undefined;
      throw new SyscallError(`lgetxattr ${path} ${name}`, code);
    }
    return buf.subarray(0, got);
  }
}

/**
 * The extended attributes of `path` whose names `accept` takes, sorted by
 * name.
 */
export function readXattrs(
  path: string,
  accept: (name: string) => boolean,
): [name: string, value: Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const name of listXattrs(path)) {
    if (!accept(name)) continue;
    const value = getXattr(path, name);
    if (value !== undefined) out.push([name, value]);
  }
  return out;
}

/**
 * Sets `path`'s extended attribute `name` to `value` (creating or replacing).
 *
 * @throws {SyscallError} when the call fails.
 */
export function setXattr(
  path: string,
  name: string,
  value: Uint8Array | string,
): void {
  const bytes = typeof value === "string"
    ? new TextEncoder().encode(value)
    : new Uint8Array(value);
  const rc = symbols().lsetxattr(
    cString(path),
    cString(name),
    bytes,
    BigInt(bytes.byteLength),
    0,
  );
  if (rc !== 0) throw new SyscallError(`lsetxattr ${path} ${name}`, errno());
}
