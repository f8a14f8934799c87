/**
 * Many calls' deadlines on one timer.
 *
 * A timer per call (armed, then cleared when the call ends a few
 * microseconds later) cost the daemon more than handling a shim's event
 * itself. Here a call with a deadline only joins a set: the one timer is
 * armed for the earliest deadline it knows of, moved only for an earlier
 * one, and left to run out when calls end; when it fires, it expires
 * what is due and is armed again for what is left, if anything. Calls
 * with the same timeout arriving one after another (a shim's events, each
 * with 5 s) so arm it once per timeout, not once each.
 *
 * @module
 */

/**
 * The longest delay a timer takes (2^31 - 1 ms, ~24.8 days): a longer one
 * fires at once, so a far deadline is waited for in steps of this.
 */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** What ends at its deadline unless it ended first. */
export interface Expiring {
  /** When it expires, in `performance.now()` milliseconds. */
  readonly deadline: number;
  /** Called once the deadline has passed. */
  expire(): void;
}

/** A set of {@linkcode Expiring} things sharing one timer. */
export class Deadlines {
  readonly #pending = new Set<Expiring>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires; Infinity when none is armed. */
  #firesAt = Infinity;

  /** Expires `item` at its deadline unless it is deleted first. */
  add(item: Expiring): void {
    this.#pending.add(item);
    if (item.deadline < this.#firesAt) this.#arm(item.deadline);
  }

  /** Forgets `item` (it ended); the timer is left as it is. */
  delete(item: Expiring): void {
    this.#pending.delete(item);
  }

  /** Forgets everything and stops the timer. */
  clear(): void {
    this.#pending.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firesAt = Infinity;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#firesAt = at;
    const timer = setTimeout(
      () => this.#fire(),
      Math.min(MAX_DELAY_MS, Math.max(0, at - performance.now())),
    );
    // A deadline never keeps a process alive by itself.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firesAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const item of this.#pending) {
      if (item.deadline <= now) {
        this.#pending.delete(item);
        item.expire();
      } else if (item.deadline < next) {
        next = item.deadline;
      }
    }
    if (next < Infinity) this.#arm(next);
  }
}
