/**
 * A callback that runs once some time has passed without activity, for
 * giving back what only busy periods need (a worker, freed memory).
 *
 * @module
 */

/** The clock and timers an {@linkcode IdleTimer} uses; replaceable in tests. */
export interface IdleClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `fn` after `ms`; returns what cancels that call. */
  set(fn: () => void, ms: number): () => void;
}

/** `performance.now` and unref'd `setTimeout`: never keeps a process alive. */
export const SYSTEM_IDLE_CLOCK: IdleClock = {
  now: () => performance.now(),
  set(fn, ms) {
    const handle = setTimeout(fn, ms);
    Deno.unrefTimer(handle);
    return () => clearTimeout(handle);
  },
};

/** Options for {@linkcode IdleTimer}. */
export interface IdleTimerOptions {
  /** How long without activity before `onIdle` runs. */
  ms: number;
  /** What runs once the time has passed since the last activity. */
  onIdle(): void;
  /** The clock (default {@linkcode SYSTEM_IDLE_CLOCK}). */
  clock?: IdleClock;
}

/**
 * Runs `onIdle` once `ms` after the last {@linkcode IdleTimer.touch},
 * then waits for activity again. At most one timer is armed however
 * often `touch` is called: a timer that fires early re-arms for the rest.
 */
export class IdleTimer {
  readonly #options: IdleTimerOptions;
  readonly #clock: IdleClock;
  #last = 0;
  #cancel: (() => void) | undefined;

  /** Creates the timer, not armed. */
  constructor(options: IdleTimerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_IDLE_CLOCK;
  }

  /** Whether `onIdle` is waiting to run. */
  get armed(): boolean {
    return this.#cancel !== undefined;
  }

  /** Activity now: `onIdle` runs `ms` from now unless touched again. */
  touch(): void {
    this.#last = this.#clock.now();
    if (!this.#cancel) this.#arm(this.#options.ms);
  }

  /** Disarms the timer until the next {@linkcode IdleTimer.touch}. */
  cancel(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #arm(ms: number): void {
    this.#cancel = this.#clock.set(() => {
      this.#cancel = undefined;
      const quiet = this.#clock.now() - this.#last;
      if (quiet < this.#options.ms) this.#arm(this.#options.ms - quiet);
      else this.#options.onIdle();
    }, ms);
  }
}
