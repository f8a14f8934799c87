/**
 * glibc's `malloc_trim(3)`: the allocator keeps memory freed by Deno's
 * native side (Rust, SQLite, worker threads) in its arenas; trimming gives
 * the free pages back to the kernel.
 *
 * @module
 */
import { libcSymbols } from "./libc.ts";

const symbols = libcSymbols(
  {
    malloc_trim: { parameters: ["usize"], result: "i32" },
  } as const,
);

/**
 * Returns the free memory of every malloc arena to the kernel
 * (`malloc_trim(0)`); returns whether any was released. Takes a few
 * milliseconds on the calling thread.
 */
export function mallocTrim(): boolean {
  return symbols().malloc_trim(0n) === 1;
}
