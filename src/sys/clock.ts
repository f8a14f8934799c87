/**
 * The wall clock with nanoseconds (`clock_gettime(CLOCK_REALTIME)`):
 * `Date.now()` has milliseconds only, and containerd keeps nanoseconds.
 *
 * @module
 */
import { libcSymbols } from "./libc.ts";

const clock = libcSymbols(
  {
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  } as const,
);

const CLOCK_REALTIME = 0;

/** Nanoseconds since the Unix epoch, now. */
export function realtimeNanos(): bigint {
  const spec = new BigInt64Array(2);
  if (
    clock().clock_gettime(CLOCK_REALTIME, new Uint8Array(spec.buffer)) !== 0
  ) {
    // Never fails for CLOCK_REALTIME; milliseconds rather than nothing.
    return BigInt(Date.now()) * 1_000_000n;
  }
  return spec[0] * 1_000_000_000n + spec[1];
}
