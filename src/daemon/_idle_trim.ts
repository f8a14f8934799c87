/**
 * Gives memory back once the API has been quiet for a while: what glibc
 * keeps in its arenas after a busy period (Deno's native side, SQLite,
 * finished threads) goes back to the kernel with `malloc_trim`.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { mallocTrim } from "../sys/malloc.ts";
import { type IdleClock, IdleTimer } from "../types/mod.ts";

/** How long the API is quiet before memory is given back. */
export const IDLE_TRIM_MS = 10_000;

const MB = 1 << 20;

/** Options for {@linkcode idleTrim}. */
export interface IdleTrimOptions {
  /** Where the effect of each trim is logged (at debug level). */
  logger: Logger;
  /** Quiet time before a trim (default {@linkcode IDLE_TRIM_MS}). */
  ms?: number;
  /** The clock (tests replace it). */
  clock?: IdleClock;
  /** The trim (default {@linkcode mallocTrim}). */
  trim?: () => boolean;
}

/**
 * A timer that trims the process's memory once, `ms` after the last call
 * it was told of ({@linkcode IdleTimer.touch}), and logs what that gave.
 */
export function idleTrim(options: IdleTrimOptions): IdleTimer {
  const trim = options.trim ?? mallocTrim;
  return new IdleTimer({
    ms: options.ms ?? IDLE_TRIM_MS,
    clock: options.clock,
    onIdle() {
      const before = Deno.memoryUsage();
      const released = trim();
      const after = Deno.memoryUsage();
      options.logger.debug("idle: memory trimmed", {
        released,
        rssBeforeMB: +(before.rss / MB).toFixed(1),
        rssAfterMB: +(after.rss / MB).toFixed(1),
        heapUsedMB: +(after.heapUsed / MB).toFixed(1),
        heapTotalMB: +(after.heapTotal / MB).toFixed(1),
        externalMB: +(after.external / MB).toFixed(1),
      });
    },
  });
}
