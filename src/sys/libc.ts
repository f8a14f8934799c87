/**
 * Deno FFI bindings to the parts of libc Deno does not offer.
 *
 * The library is opened on first use, so programs that never need it (the
 * client) pay nothing. Calls are synchronous: `errno` is only reliable on the
 * thread that made the call.
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * A loader for libc's `symbols`: the first call opens `libc.so.6` with that
 * table, later calls return the same symbols. Each table gets its own handle
 * on the one library, so `errno` read through {@linkcode errno} belongs to
 * calls made through any of them.
 */
export function libcSymbols<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] {
  let library: Deno.DynamicLibrary<S> | undefined;
  return () => {
    library ??= Deno.dlopen("libc.so.6", symbols);
    return library.symbols;
  };
}

/** The loaded libc symbols. */
export const libc: () => Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] =
  libcSymbols(SYMBOLS);

/** A failed libc call, with its errno. */
export class SyscallError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** What the errno means, as `strerror` says it ("Invalid argument"). */
  readonly description: string;
  /** Creates the error for `call`, reading errno now. */
  constructor(call: string, errno: number) {
    const text = Deno.UnsafePointerView.getCString(libc().strerror(errno)!);
    super(`${call}: ${text}`);
    this.name = "SyscallError";
    this.errno = errno;
    this.description = text;
  }
}

/** The calling thread's errno. */
export function errno(): number {
  const pointer = libc().__errno_location();
  return new Deno.UnsafePointerView(pointer!).getInt32();
}

/** NUL-terminated bytes of `text`, for `char *` arguments. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/**
 * A NULL-terminated `char *[]` over `items`, with the bytes it points to:
 * all the strings in one buffer, so a long list costs two allocations.
 */
export function cStringArray(items: string[]): {
  array: BigUint64Array<ArrayBuffer>;
  keep: Uint8Array;
} {
  const keep = cString(items.join("\0"));
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(keep)));
  const array = new BigUint64Array(items.length + 1);
  let offset = 0;
  for (let i = 0; i < items.length; i++) {
    array[i] = base + BigInt(offset);
    offset = keep.indexOf(0, offset) + 1;
  }
  return { array, keep };
}

/** errno values berth checks for by name. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  EWOULDBLOCK: 11,
  EBUSY: 16,
  EINVAL: 22,
  EROFS: 30,
  ENOSYS: 38,
  ENODATA: 61,
} as const;
