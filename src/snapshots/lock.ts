/**
 * A readers–writer lock for async work, in first-come order: many shared
 * holders at once, or one exclusive holder. A waiting exclusive request
 * holds back later shared ones, so it is never starved.
 *
 * The snapshotters take it shared for creations, commits and removals
 * (their records are checked again in one synchronous transaction, so they
 * need no more), and exclusive for cleanup and close, which must not see
 * a directory that is being created.
 *
 * @module
 */

interface Waiter {
  exclusive: boolean;
  wake: () => void;
}

/** The lock. */
export class RwLock {
  #shared = 0;
  #exclusive = false;
  #queue: Waiter[] = [];

  /** Runs `fn` holding the lock shared. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await fn();
    } finally {
      this.#shared--;
      this.#dispatch();
    }
  }

  /** Runs `fn` holding the lock exclusively. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await fn();
    } finally {
      this.#exclusive = false;
      this.#dispatch();
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#queue.length === 0 && this.#free(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((wake) => this.#queue.push({ exclusive, wake }));
  }

  #free(exclusive: boolean): boolean {
    return exclusive
      ? !this.#exclusive && this.#shared === 0
      : !this.#exclusive;
  }

  #take(exclusive: boolean) {
    if (exclusive) this.#exclusive = true;
    else this.#shared++;
  }

  #dispatch() {
    while (this.#queue.length > 0 && this.#free(this.#queue[0].exclusive)) {
      const waiter = this.#queue.shift()!;
      this.#take(waiter.exclusive);
      waiter.wake();
    }
  }
}
