/**
 * When collection runs: shortly after deletions (coalesced), on a fixed
 * interval, and at once for `sync` deletes, which wait for it. Runs never
 * overlap.
 *
 * @module
 */

/** Options for {@linkcode GcScheduler}. */
export interface GcSchedulerOptions {
  /** One collection. */
  collect: () => Promise<void>;
  /** How long after a deletion to collect, in ms (deletions coalesce). */
  delayMs: number;
  /** Collect this often regardless, in ms; 0 disables. */
  intervalMs: number;
  /** Reports a failed run (the next run retries). */
  onError?: (err: unknown) => void;
}

/** Schedules garbage collection. */
export class GcScheduler {
  readonly #options: GcSchedulerOptions;
  #running: Promise<void> | undefined;
  #rerun = false;
  #delayTimer: ReturnType<typeof setTimeout> | undefined;
  #intervalTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Creates the scheduler and starts its interval. */
  constructor(options: GcSchedulerOptions) {
    this.#options = options;
    if (options.intervalMs > 0) {
      const timer = setInterval(() => this.#trigger(), options.intervalMs);
      Deno.unrefTimer(timer);
      this.#intervalTimer = timer;
    }
  }

  /** Asks for a collection soon; many calls make one run. */
  schedule(): void {
    if (this.#closed || this.#delayTimer !== undefined) return;
    const timer = setTimeout(() => {
      this.#delayTimer = undefined;
      this.#trigger();
    }, this.#options.delayMs);
    Deno.unrefTimer(timer);
    this.#delayTimer = timer;
  }

  /**
   * Collects now and resolves when a run that started after this call is
   * done (a run in progress is followed by another).
   */
  runNow(): Promise<void> {
    return this.#trigger();
  }

  #trigger(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running) {
      this.#rerun = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#rerun = false;
        try {
          await this.#options.collect();
        } catch (err) {
          this.#options.onError?.(err);
        }
      } while (this.#rerun && !this.#closed);
    })().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Stops scheduling and waits for a run in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#delayTimer);
    clearInterval(this.#intervalTimer);
    await this.#running;
  }
}
