/**
 * When collection runs, on containerd's schedule (its
 * `io.containerd.gc.v1.scheduler` plugin): the metadata store reports every
 * mutation, and whether deletions since the last collection left it dirty.
 * A collection runs `startupDelayMs` after start; then a check comes every
 * interval (the average collection time stretched so that collections take
 * at most `pauseThreshold` of real time), which collects only when the store
 * is dirty, `mutationThreshold` mutations have passed, or a collection was
 * asked for. An explicit request ({@linkcode GcScheduler.runNow}, as a
 * `sync` delete makes) collects `scheduleDelayMs` later and waits for it.
 * Runs never overlap.
 *
 * @module
 */

/** Options for {@linkcode GcScheduler}, named as containerd's settings. */
export interface GcSchedulerOptions {
  /** One collection. */
  collect: () => Promise<void>;
  /**
   * The largest share of real time collections may take (0 to 0.5): the
   * interval between checks is the average collection time divided by it.
   * 0 keeps the interval at one second.
   */
  pauseThreshold: number;
  /**
   * Deletions after which a collection runs at once (`scheduleDelayMs`
   * later); 0 leaves deletions to the next check.
   */
  deletionThreshold: number;
  /** Mutations after which the next check collects; 0 never. */
  mutationThreshold: number;
  /** How long after a request (or a threshold) to collect, in ms. */
  scheduleDelayMs: number;
  /** How long after start the first collection runs, in ms; 0 none. */
  startupDelayMs: number;
  /** Reports a failed run (a later check retries). */
  onError?: (err: unknown) => void;
}

/** The shortest interval between checks, so an idle daemon never spins. */
const MIN_INTERVAL_MS = 10;

/** Schedules garbage collection. */
export class GcScheduler {
  readonly #options: GcSchedulerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = false;
  /** When the timer fires, if one is set. */
  #next: number | undefined;
  #collected = false;
  #intervalMs = 1000;
  #gcTimeMs = 0;
  #collections = 0;
  #triggered = false;
  #deletions = 0;
  #mutations = 0;
  #running: Promise<void> | undefined;
  #waiters: PromiseWithResolvers<void>[] = [];
  #closed = false;
  /**
   * Settles when the start-up collection is over (at once when there is
   * none): a daemon serves only then, so no client's first writes race it.
   */
  readonly started: Promise<void>;

  /**
   * Whether a collection is set to run (its timer set), not just the
   * periodic idle check: what the thresholds decided, without waiting.
   */
  get due(): boolean {
    return this.#due;
  }

  /** Creates the scheduler; the first collection is `startupDelayMs` away. */
  constructor(options: GcSchedulerOptions) {
    this.#options = {
      ...options,
      pauseThreshold: Math.min(Math.max(options.pauseThreshold, 0), 0.5),
      mutationThreshold: Math.max(options.mutationThreshold, 0),
      scheduleDelayMs: Math.max(options.scheduleDelayMs, 0),
    };
    if (options.startupDelayMs > 0) {
      const first = Promise.withResolvers<void>();
      this.#waiters.push(first);
      this.started = first.promise.catch(() => {});
      this.#schedule(options.startupDelayMs);
    } else {
      this.started = Promise.resolve();
    }
  }

  /**
   * Reports a committed mutation of the metadata store; `dirty` when
   * deletions since the last collection may have left garbage.
   */
  mutated(dirty: boolean): void {
    if (dirty) this.#deletions++;
    this.#mutations++;
    this.#consider();
  }

  /**
   * Asks for a collection and resolves once one that started after this
   * call is done; rejects when that collection fails.
   */
  runNow(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    this.#triggered = true;
    this.#consider();
    return waiter.promise;
  }

  /** Schedules a collection when a request or a threshold calls for one. */
  #consider(): void {
    const o = this.#options;
    const due = this.#triggered ||
      (o.deletionThreshold > 0 && this.#deletions >= o.deletionThreshold) ||
      (this.#next === undefined &&
        ((o.deletionThreshold === 0 && this.#deletions > 0) ||
          (o.mutationThreshold > 0 &&
            this.#mutations >= o.mutationThreshold)));
    if (!due) return;
    const at = Date.now() + o.scheduleDelayMs;
    if (this.#next === undefined || this.#next > at) {
      this.#schedule(o.scheduleDelayMs);
    }
  }

  /**
   * Sets the next check. Only a due collection keeps the process alive;
   * the periodic idle check does not.
   */
  #schedule(delayMs: number, due = true): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#next = Date.now() + delayMs;
    this.#due = due;
    this.#timer = setTimeout(() => this.#fire(), delayMs);
    if (!due) Deno.unrefTimer(this.#timer);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#due = false;
    this.#next = undefined;
    if (this.#running) return; // the run's end schedules the next check
    const o = this.#options;
    if (
      !this.#triggered && this.#collected && this.#deletions === 0 &&
      (o.mutationThreshold === 0 || this.#mutations < o.mutationThreshold)
    ) {
      this.#schedule(this.#intervalMs, false);
      return;
    }
    this.#running = this.#run().finally(() => this.#running = undefined);
  }

  async #run(): Promise<void> {
    // What happens from here on counts towards the next collection.
    const counts = [this.#triggered, this.#deletions, this.#mutations] as const;
    this.#triggered = false;
    this.#deletions = 0;
    this.#mutations = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    const started = performance.now();
    try {
      await this.#options.collect();
    } catch (err) {
      this.#options.onError?.(err);
      this.#triggered ||= counts[0];
      this.#deletions += counts[1];
      this.#mutations += counts[2];
      this.#collected = true;
      this.#schedule(this.#intervalMs + 1000, false);
      for (const w of waiters) w.reject(err);
      return;
    }
    this.#gcTimeMs += performance.now() - started;
    this.#collections++;
    if (this.#options.pauseThreshold > 0) {
      const average = this.#gcTimeMs / this.#collections;
      this.#intervalMs = Math.max(
        average / this.#options.pauseThreshold - average,
        MIN_INTERVAL_MS,
      );
    }
    this.#collected = true;
    // A request made while this run went on gets a run of its own.
    if (this.#triggered) this.#schedule(this.#options.scheduleDelayMs);
    else this.#schedule(this.#intervalMs, false);
    for (const w of waiters) w.resolve();
  }

  /** Stops scheduling and waits for a run in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#due = false;
    clearTimeout(this.#timer);
    await this.#running;
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
  }
}
