/**
 * A connection's outgoing frames, gathered into one buffer and written to
 * the connection once per turn of the event loop: a unary call's HEADERS,
 * DATA and trailers, and everything the other calls answered in the same
 * turn, leave in one `write` (one `sendto`). While a write is in flight,
 * what later turns gather waits and leaves in one write after it.
 *
 * @module
 */
import { FRAME_HEADER_LENGTH, writeFrameHeader } from "./frames.ts";

/** Where a writer's bytes go: a `Deno.Conn`, or anything writing like one. */
export interface ByteSink {
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** The payload of a frame that has none. */
const NO_PAYLOAD = new Uint8Array(0);

/** The first size of a turn's buffer. */
const INITIAL_CAPACITY = 1024;

/**
 * The largest turn's buffer kept for later turns once the connection is
 * done with it.
 */
const MAX_SPARE = 4 << 20;

/**
 * Bytes unsent past which DATA waits for the connection (as a `node:net`
 * socket's write returns false from its high water mark on).
 */
const HIGH_WATER = 64 << 10;

/**
 * Bytes unsent past which the connection stops reading from its peer (a
 * peer that sends but never reads).
 */
const MAX_UNSENT = 16 << 20;

/** Frames bound for one connection; see the module doc. */
export class FrameWriter {
  #sink: ByteSink;
  #buffer: Uint8Array | undefined;
  /**
   * A written turn's buffer, taken by the next turn: a stream of 32 KiB
   * answers (`ctr content get`) otherwise allocates and grows a buffer for
   * each, which kept V8's collector busy.
   */
  #spare: Uint8Array | undefined;
  #used = 0;
  /** Bytes of the write in flight not yet taken by the connection. */
  #writing = 0;
  #inFlight = false;
  #scheduled = false;
  #blocked = false;
  #closed = false;
  #onDrain: () => void;
  #drainWaiters: (() => void)[] = [];

  /**
   * A writer to `sink`; `onDrain` runs once everything is written after
   * the writer was {@linkcode blocked}.
   */
  constructor(sink: ByteSink, onDrain: () => void) {
    this.#sink = sink;
    this.#onDrain = onDrain;
  }

  /**
   * True while the connection holds more than it wants: DATA waits
   * (control frames still go).
   */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Bytes gathered or in flight, not yet taken by the connection. */
  get unsent(): number {
    return this.#used + this.#writing;
  }

  /**
   * True when more is unsent than a peer may leave unread: the connection
   * stops reading until {@linkcode drained}.
   */
  get behind(): boolean {
    return this.unsent > MAX_UNSENT;
  }

  /** Resolves once nothing is unsent, or the writer is closed. */
  drained(): Promise<void> {
    if (this.unsent === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Adds a frame with `payload` (or an empty one). */
  frame(
    type: number,
    flags: number,
    streamId: number,
    payload: Uint8Array = NO_PAYLOAD,
  ): void {
    this.frameOf(type, flags, streamId, payload, 0, payload.length);
  }

  /** Adds a frame whose payload is `bytes[start, end)`. */
  frameOf(
    type: number,
    flags: number,
    streamId: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (this.#closed) return;
    const offset = this.#reserve(FRAME_HEADER_LENGTH + end - start);
    const buffer = this.#buffer!;
    writeFrameHeader(buffer, offset, end - start, type, flags, streamId);
    buffer.set(
      start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end),
      offset + FRAME_HEADER_LENGTH,
    );
  }

  /**
   * Writes what was gathered now (or, while a write is in flight, right
   * after it).
   */
  flush(): void {
    this.#scheduled = false;
    if (this.#used === 0 || this.#closed) return;
    if (this.unsent >= HIGH_WATER) this.#blocked = true;
    if (this.#inFlight) return;
    const buffer = this.#buffer!;
    const length = this.#used;
    this.#buffer = undefined;
    this.#used = 0;
    this.#send(buffer, length);
  }

  /** Drops what is unsent and writes nothing more (the connection is gone). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer = undefined;
    this.#spare = undefined;
    this.#used = 0;
    this.#writing = 0;
    this.#wakeDrainWaiters();
  }

  async #send(buffer: Uint8Array, length: number) {
    this.#inFlight = true;
    this.#writing = length;
    try {
      let offset = 0;
      while (offset < length) {
        offset += await this.#sink.write(buffer.subarray(offset, length));
        if (this.#closed) return;
        this.#writing = length - offset;
      }
    } catch {
      // The peer is gone; the connection learns it from its read.
      this.close();
      return;
    } finally {
      this.#inFlight = false;
    }
    this.#writing = 0;
    this.#recycle(buffer);
    if (this.#used > 0) {
      this.flush();
      return;
    }
    this.#wakeDrainWaiters();
    if (this.#blocked) {
      this.#blocked = false;
      this.#onDrain();
    }
  }

  #wakeDrainWaiters() {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Keeps `buffer`, written out, for a later turn. */
  #recycle(buffer: Uint8Array) {
    if (buffer.length > MAX_SPARE) return;
    if (!this.#spare || this.#spare.length < buffer.length) {
      this.#spare = buffer;
    }
  }

  /** Room for `n` more bytes; returns where they start. */
  #reserve(n: number): number {
    const used = this.#used;
    if (!this.#buffer && this.#spare && this.#spare.length >= n) {
      this.#buffer = this.#spare;
      this.#spare = undefined;
    }
    const buffer = this.#buffer;
    if (!buffer || used + n > buffer.length) {
      const grown = new Uint8Array(
        Math.max(used + n, buffer ? buffer.length * 2 : INITIAL_CAPACITY),
      );
      if (buffer) grown.set(buffer.subarray(0, used));
      this.#buffer = grown;
    }
    this.#used = used + n;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    return used;
  }
}
