/**
 * Copying a process's stdio — its pipes, the client's FIFOs, a terminal —
 * on the process's one poll loop, so no stream holds a worker thread. A
 * pipe to FIFO copy is a `splice(2)`: the bytes never enter JavaScript. A
 * terminal, which cannot splice, is copied through a buffer.
 *
 * @module
 */
import { closeFd, readFd, writeFd } from "../sys/fdio.ts";
import { poller, POLLIN, POLLOUT } from "../sys/poll.ts";
import { readable, splice, unreadBytes } from "../sys/splice.ts";

/** The most one transfer moves (pipes are grown to this). */
export const CHUNK = 1 << 20;
/** Transfers in a row before other work gets a turn. */
const TURNS = 16;
const EINVAL = 22;

/** How a {@linkcode Copy} begins and ends. */
export interface CopyOptions {
  /** Runs once, when the first bytes have moved. */
  onFirstBytes?: () => void;
  /** Takes `to` once the copy has ended (by default it is closed). */
  release?: (to: number) => void;
}

/**
 * A copy from one non-blocking descriptor to another until the source
 * ends (both are then closed, or `to` released) or it is stopped.
 */
export class Copy {
  readonly #from: number;
  readonly #to: number;
  #ended = false;
  #finishing = false;
  readonly #done = Promise.withResolvers<void>();
  readonly #drained = Promise.withResolvers<void>();
  #onFirstBytes: (() => void) | undefined;
  readonly #release: (to: number) => void;

  /** Starts copying `from` into `to`; the copy owns both from now on. */
  constructor(from: number, to: number, options: CopyOptions = {}) {
    this.#from = from;
    this.#to = to;
    this.#onFirstBytes = options.onFirstBytes;
    this.#release = options.release ?? closeFd;
    this.#run().catch(() => {}).finally(() => this.stop());
  }

  /** Resolves when the copy has ended. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /**
   * The writer is gone (the process exited): resolves once what it left in
   * the source has been copied, even if another process holds it open.
   */
  drain(): Promise<void> {
    this.#finishing = true;
    if (!readable(this.#from)) this.#drained.resolve();
    return this.#drained.promise;
  }

  /** Ends the copy now and closes both descriptors. */
  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    closeFd(this.#from);
    this.#release(this.#to);
    this.#drained.resolve();
    this.#done.resolve();
  }

  async #run(): Promise<void> {
    for (let turn = 0; !this.#ended; turn++) {
      let moved;
      try {
        moved = splice(this.#from, this.#to, CHUNK);
      } catch (err) {
        if ((err as { errno?: number }).errno === EINVAL) {
          return await this.#copyThroughBuffer();
        }
        return; // the reader or the writer is gone
      }
      if (moved === 0 && readable(this.#from)) return; // hung up and empty
      if (moved !== 0 && moved !== "again") {
        this.#moved();
        // Let others run now and then, however fast this one flows (not
        // with setTimeout(…, 0), which Deno fires 2 ms or more later: a
        // process's first output would hold up its copy and exit that long).
        if (turn % TURNS === 0) await new Promise((r) => setImmediate(r));
        continue;
      }
      if (!await this.#wait()) return;
    }
  }

  /**
   * Nothing moved: waits for the side that stopped it — a full target, or
   * a source that is empty (or a FIFO no writer has opened yet). False once
   * the copy is stopped.
   */
  async #wait(): Promise<boolean> {
    if (readable(this.#from)) {
      // Hung up and empty, with the target full: a transfer says "again",
      // not 0, and no room may ever come (a client that does not read).
      if (unreadBytes(this.#from) === 0) return false;
      return await poller.wait(this.#to, POLLOUT) !== 0;
    }
    if (this.#finishing) this.#drained.resolve();
    return await poller.wait(this.#from, POLLIN) !== 0;
  }

  #moved(): void {
    const first = this.#onFirstBytes;
    this.#onFirstBytes = undefined;
    first?.();
  }

  async #copyThroughBuffer(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    while (!this.#ended) {
      const n = await readFd(this.#from, buffer);
      if (n === 0) {
        // A FIFO reads 0 until its first writer came: wait for it.
        if (readable(this.#from) || this.#ended) return;
        if (this.#finishing) this.#drained.resolve();
        if (await poller.wait(this.#from, POLLIN) === 0) return;
        continue;
      }
      this.#moved();
      if (!await writeFd(this.#to, buffer.subarray(0, n))) return;
    }
  }
}
