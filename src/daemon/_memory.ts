/**
 * The daemon's memory housekeeping, driven by its API calls. While calls
 * keep coming, V8 collects garbage in full every so often: between its own
 * major collections the old generation holds up to twice its live size of
 * garbage (objects of calls in flight outlive the small young generation).
 * Once calls stop, a last full collection, and what glibc keeps in its
 * arenas after the busy period (Deno's native side, SQLite, finished
 * threads) goes back to the kernel with `malloc_trim`.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { mallocTrim } from "../sys/malloc.ts";
import { type IdleClock, IdleTimer, SYSTEM_IDLE_CLOCK } from "../types/mod.ts";

/** How long the API is quiet before memory is trimmed. */
export const IDLE_TRIM_MS = 10_000;

/** How often, at most, a full collection runs while calls come. */
export const BUSY_GC_MS = 10_000;

const MB = 1 << 20;

/** Options for {@linkcode MemoryHousekeeping}. */
export interface MemoryHousekeepingOptions {
  /** Where the effect of each trim is logged (at debug level). */
  logger: Logger;
  /** Quiet time before a trim (default {@linkcode IDLE_TRIM_MS}). */
  idleMs?: number;
  /** Least time between full collections (default {@linkcode BUSY_GC_MS}). */
  busyGcMs?: number;
  /** The clock (tests replace it). */
  clock?: IdleClock;
  /** The trim (default {@linkcode mallocTrim}). */
  trim?: () => boolean;
  /**
   * The full collection: default V8's `gc`, there when the daemon runs
   * with `--expose-gc`; without one, there are no busy-time collections.
   */
  gc?: () => void;
}

/** Collects and trims as the daemon's calls come and go. */
export class MemoryHousekeeping {
  readonly #clock: IdleClock;
  readonly #idle: IdleTimer;
  readonly #gc: (() => void) | undefined;
  readonly #busyGcMs: number;
  readonly #logger: Logger;
  #lastGc: number;
  #cancelGc: (() => void) | undefined;

  /** Starts with nothing pending. */
  constructor(options: MemoryHousekeepingOptions) {
    this.#clock = options.clock ?? SYSTEM_IDLE_CLOCK;
    this.#gc = options.gc ?? (globalThis as { gc?: () => void }).gc;
    this.#busyGcMs = options.busyGcMs ?? BUSY_GC_MS;
    this.#logger = options.logger;
    this.#lastGc = this.#clock.now();
    const trim = options.trim ?? mallocTrim;
    const gc = this.#gc;
    const logger = this.#logger;
    this.#idle = new IdleTimer({
      ms: options.idleMs ?? IDLE_TRIM_MS,
      clock: this.#clock,
      onIdle() {
        // Deno.memoryUsage walks V8's heap spaces and reads /proc: only for
        // a line that is written.
        const before = logger.enabled("debug") ? Deno.memoryUsage() : undefined;
        gc?.();
        const released = trim();
        if (!before) return;
        const after = Deno.memoryUsage();
        logger.debug("idle: memory collected and trimmed", {
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

  /** A call came in. */
  touch(): void {
    this.#idle.touch();
    const gc = this.#gc;
    if (!gc || this.#cancelGc) return;
    if (this.#clock.now() - this.#lastGc < this.#busyGcMs) return;
    // After the call's handler has run, not in its way.
    this.#cancelGc = this.#clock.set(() => {
      this.#cancelGc = undefined;
      const started = this.#clock.now();
      gc();
      this.#lastGc = this.#clock.now();
      if (!this.#logger.enabled("debug")) return;
      const after = Deno.memoryUsage();
      this.#logger.debug("busy: garbage collected", {
        ms: Math.round(this.#lastGc - started),
        rssMB: +(after.rss / MB).toFixed(1),
        heapUsedMB: +(after.heapUsed / MB).toFixed(1),
        heapTotalMB: +(after.heapTotal / MB).toFixed(1),
      });
    }, 0);
  }

  /** Cancels what is pending (the daemon is closing). */
  close(): void {
    this.#idle.cancel();
    this.#cancelGc?.();
    this.#cancelGc = undefined;
  }
}
