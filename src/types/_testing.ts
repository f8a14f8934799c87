/**
 * Test helpers for the shared types: a clock whose time moves only when
 * the test says so.
 *
 * @module
 */
import type { IdleClock } from "./idle.ts";

/** An {@linkcode IdleClock} whose time and timers move only by `advance`. */
export class ManualClock implements IdleClock {
  #now = 0;
  readonly #timers = new Set<{ fn: () => void; at: number; ms: number }>();

  now(): number {
    return this.#now;
  }

  set(fn: () => void, ms: number): () => void {
    const timer = { fn, at: this.#now + ms, ms };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }

  /** The delays of the timers armed now. */
  get armed(): number[] {
    return [...this.#timers].map((t) => t.ms);
  }

  /** Moves time on by `ms`, firing the timers that come due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    while (true) {
      const due = [...this.#timers].filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers.delete(due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
  }
}
