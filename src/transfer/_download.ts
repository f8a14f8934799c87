/**
 * A blob download into the content store that a layer applier can follow
 * while it runs: the applier reads the ingest file up to what has been
 * written, waits for more, and never holds more than a chunk in memory.
 *
 * @module
 */
import type { IngestReader } from "../content/mod.ts";

/** Bytes read from the ingest per step of a follower. */
const FOLLOW_CHUNK = 1 << 20;

/** The written-so-far state of one download. */
export class Download {
  /** Bytes on disk so far. */
  written = 0;
  /** Settles when the blob is committed (or the download failed). */
  readonly committed: Promise<void>;
  #settle!: { resolve: () => void; reject: (err: unknown) => void };
  #failure: unknown;
  #done = false;
  #waiters: (() => void)[] = [];

  /** Creates a download in progress. */
  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.committed.catch(() => {});
  }

  /** More bytes are on disk. */
  wrote(bytes: number): void {
    this.written += bytes;
    this.#wake();
  }

  /** The blob is committed. */
  finish(): void {
    this.#done = true;
    this.#settle.resolve();
    this.#wake();
  }

  /** The download failed. */
  fail(err: unknown): void {
    this.#failure = err;
    this.#done = true;
    this.#settle.reject(err);
    this.#wake();
  }

  #wake() {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /**
   * Streams the blob's bytes from `reader` as they are written, ending
   * when the download is committed; fails when it fails.
   */
  async *follow(reader: IngestReader): AsyncGenerator<Uint8Array> {
    let position = 0;
    try {
      while (true) {
        if (this.#failure !== undefined) throw this.#failure;
        if (position < this.written) {
          const chunk = await reader.readAt(
            position,
            Math.min(FOLLOW_CHUNK, this.written - position),
          );
          if (chunk.length === 0) throw new Error("ingest shrank while read");
          position += chunk.length;
          yield chunk;
        } else if (this.#done) {
          return;
        } else {
          await new Promise<void>((wake) => this.#waiters.push(wake));
        }
      }
    } finally {
      reader.close();
    }
  }
}
