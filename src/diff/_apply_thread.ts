/**
 * Runs layer applications in a worker thread (see `_apply_worker.ts`),
 * one worker per differ, created on first use and stopped once it has had
 * no job for a while: a worker is a V8 isolate of its own (~13 MB of the
 * daemon's RSS, ~25 MB with the code it runs), which V8 gives back only
 * after the worker is gone.
 *
 * @module
 */
import type { ApplyResult } from "../archive/mod.ts";
import {
  BerthError,
  type Code,
  type IdleClock,
  IdleTimer,
} from "../types/mod.ts";
import type { ApplyJob } from "./_apply_job.ts";
import type { FromWorker, ToWorker } from "./_apply_worker.ts";

/** Chunks sent ahead of the worker's consumption. */
const CREDITS = 8;

/** How long a worker without a job is kept by default. */
export const DEFAULT_WORKER_IDLE_MS = 30_000;

/** Options for {@linkcode ApplyThread}. */
export interface ApplyThreadOptions {
  /**
   * How long the worker may go without a job before it is stopped
   * (default {@linkcode DEFAULT_WORKER_IDLE_MS}); the next job starts
   * another.
   */
  idleMs?: number;
  /** The clock of that idle stop (tests replace it). */
  clock?: IdleClock;
}

interface Pending {
  credit: () => void;
  settle: (result: FromWorker) => void;
}

/** The worker's error as the error it was. */
function workerError(result: { code?: number; message: string }): Error {
  if (result.code === undefined) return new Error(result.message);
  const err = new BerthError(result.code as Code, "");
  err.message = result.message;
  return err;
}

/** A worker applying layers. */
export class ApplyThread {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #idle: IdleTimer;

  /** Creates the thread; its worker starts with the first job. */
  constructor(options: ApplyThreadOptions = {}) {
    this.#idle = new IdleTimer({
      ms: options.idleMs ?? DEFAULT_WORKER_IDLE_MS,
      onIdle: () => this.close(),
      clock: options.clock,
    });
  }

  /** Whether a worker is running now. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  #start(): Worker {
    this.#idle.cancel();
    if (this.#worker) return this.#worker;
    const worker = new Worker(
      new URL("./_apply_worker.ts", import.meta.url).href,
      { type: "module" },
    );
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const pending = this.#pending.get(event.data.id);
      if (!pending) return;
      if (event.data.type === "credit") pending.credit();
      else pending.settle(event.data);
    };
    this.#worker = worker;
    return worker;
  }

  /** Applies `source` per `job` in the worker. */
  async apply(
    job: ApplyJob,
    source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<ApplyResult> {
    const worker = this.#start();
    const id = this.#nextId++;
    const post = (message: ToWorker, transfer: Transferable[] = []) =>
      worker.postMessage(message, transfer);
    let credits = CREDITS;
    let wake: (() => void) | undefined;
    const outcome = new Promise<FromWorker>((settle) => {
      this.#pending.set(id, {
        credit: () => {
          credits++;
          wake?.();
        },
        settle: (result) => {
          settle(result);
          wake?.();
        },
      });
    });
    let settled = false;
    outcome.then(() => settled = true);
    post({ type: "apply", id, job });
    let failure: unknown;
    try {
      for await (let chunk of source) {
        if (signal?.aborted) throw signal.reason;
        while (credits === 0 && !settled) {
          await new Promise<void>((resolve) => wake = resolve);
          wake = undefined;
        }
        if (settled) break;
        // Transfer, never copy: only a chunk that owns its buffer can go.
        if (
          chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength
        ) {
          chunk = chunk.slice();
        }
        credits--;
        post({ type: "chunk", id, data: chunk }, [chunk.buffer as ArrayBuffer]);
      }
      post({ type: "end", id });
    } catch (err) {
      failure = err;
      post({
        type: "abort",
        id,
        message: String((err as Error)?.message ?? err),
      });
    }
    const result = await outcome;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#idle.touch();
    // A failed source (a download that did not verify) is the root cause.
    if (failure !== undefined) throw failure;
    if (result.type === "error") throw workerError(result);
    if (result.type !== "done") throw new Error("apply worker: no result");
    return { digest: result.digest, size: result.size };
  }

  /** Stops the worker. */
  close(): void {
    this.#idle.cancel();
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}
