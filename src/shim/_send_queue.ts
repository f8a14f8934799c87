/**
 * Sending queued items one at a time, in the order they were queued, by
 * one loop that runs while there is something to send (the shim's task
 * events, see `publisher.ts`).
 *
 * @module
 */

/** A queue whose items are handed to `send` one at a time, in order. */
export class SendQueue<T> {
  readonly #send: (item: T) => Promise<void>;
  readonly #items: T[] = [];
  #sending: Promise<void> | undefined;

  /** A queue whose items go to `send` (its failures are its own affair). */
  constructor(send: (item: T) => Promise<void>) {
    this.#send = send;
  }

  /** Queues `item`; it is sent after those queued before it. */
  push(item: T): void {
    this.#items.push(item);
    // The loop cannot end before it is recorded: its first send is awaited.
    this.#sending ??= this.#drain();
  }

  /** Resolves once everything queued so far has been handed on. */
  async flush(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  async #drain(): Promise<void> {
    for (let item; (item = this.#items.shift()) !== undefined;) {
      await this.#send(item).catch(() => {});
    }
    // Cleared in the turn that found the queue empty: an item queued after
    // it starts the next loop. (Cleared a turn later, by a `finally`, an
    // item queued in between was left unsent until some later one came.)
    this.#sending = undefined;
  }
}
