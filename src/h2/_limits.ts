/**
 * What one HTTP/2 connection lets its client cost: the clock its timers
 * run on (replaced in tests), and a budget of frames that make no progress
 * (PINGs, SETTINGS, empty DATA, resets of streams never run…), in the
 * manner of nghttp2's glitch limit: a client spending it faster than the
 * server makes progress and time refills it is flooding (CVE-2019-9512,
 * -9515, -9518, CVE-2023-44487) and is told ENHANCE_YOUR_CALM.
 *
 * @module
 */

/** Time and timers, as a connection uses them. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns what `clear` takes. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer of `setTimeout` (one that ran or was cleared: nothing). */
  clearTimeout(timer: unknown): void;
}

/** The system's clock. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

/**
 * Milliseconds a client has to acknowledge the server's SETTINGS before
 * the connection ends with SETTINGS_TIMEOUT (RFC 9113 §6.5.3). Go's server
 * gives a client 2 s to send its first SETTINGS; a client that answers
 * ours within 10 s is merely slow.
 */
export const SETTINGS_TIMEOUT_MS = 10_000;

/** Frames without progress a client may send at once (nghttp2's burst). */
export const CALM_BURST = 1000;

/** Frames without progress a client may send a second, sustained. */
export const CALM_PER_SECOND = 100;

/**
 * A token bucket of frames without progress: `spend` takes one, time and
 * `earn` (the server answered something) put them back, up to the burst.
 */
export class CalmBudget {
  #clock: Clock;
  #tokens = CALM_BURST;
  #refilled: number;

  /** A full budget on `clock`. */
  constructor(clock: Clock) {
    this.#clock = clock;
    this.#refilled = clock.now();
  }

  /** Takes one for a frame without progress; false when none is left. */
  spend(): boolean {
    const now = this.#clock.now();
    const grown = (now - this.#refilled) * CALM_PER_SECOND / 1000;
    this.#tokens = Math.min(CALM_BURST, this.#tokens + grown);
    this.#refilled = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Gives one back: the server sent an answer's headers or data. */
  earn(): void {
    if (this.#tokens < CALM_BURST) this.#tokens++;
  }
}
