/**
 * A connection's outgoing frames, gathered into one buffer and written to
 * the socket once per turn of the event loop: a unary call's HEADERS, DATA
 * and trailers, and everything the other calls answered in the same turn,
 * leave in one `write` (one `sendto`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";
import { FRAME_HEADER_LENGTH, writeFrameHeader } from "./frames.ts";

/** The payload of a frame that has none. */
const NO_PAYLOAD = new Uint8Array(0);

/** The first size of a turn's buffer (below node's pool cut, so pooled). */
const INITIAL_CAPACITY = 1024;

/**
 * The largest turn's buffer kept for later turns once the socket is done
 * with it.
 */
const MAX_SPARE = 4 << 20;

/**
 * Bytes the socket may hold unsent before the connection stops reading
 * from its peer (a peer that sends but never reads).
 */
const MAX_UNSENT = 16 << 20;

/** Frames bound for one socket; see the module doc. */
export class FrameWriter {
  #socket: net.Socket;
  #buffer: Buffer | undefined;
  /**
   * A written turn's buffer, taken by the next turn: a stream of 32 KiB
   * answers (`ctr content get`) otherwise allocates and grows a buffer for
   * each, which kept V8's collector busy.
   */
  #spare: Buffer | undefined;
  #used = 0;
  #scheduled = false;
  #blocked = false;
  #onDrain: () => void;

  /**
   * A writer for `socket`; `onDrain` runs when the socket takes data again
   * after it refused more.
   */
  constructor(socket: net.Socket, onDrain: () => void) {
    this.#socket = socket;
    this.#onDrain = onDrain;
    socket.on("drain", () => {
      this.#blocked = false;
      if (socket.isPaused()) socket.resume();
      this.#onDrain();
    });
  }

  /**
   * True while the socket holds more than it wants: DATA waits (control
   * frames still go).
   */
  get blocked(): boolean {
    return this.#blocked;
  }

  /**
   * Writes what was gathered now if, with what the socket holds, it is
   * more than a peer may leave unread (see `flush`). Called after each
   * chunk read: a peer that never reads stops being read after one
   * chunk's answers, not after all that one turn read.
   */
  flushIfBehind(): void {
    if (this.#used + this.#socket.writableLength > MAX_UNSENT) this.flush();
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
    const offset = this.#reserve(FRAME_HEADER_LENGTH + end - start);
    const buffer = this.#buffer!;
    writeFrameHeader(buffer, offset, end - start, type, flags, streamId);
    buffer.set(
      start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end),
      offset + FRAME_HEADER_LENGTH,
    );
  }

  /** Writes what was gathered now (before the socket ends). */
  flush(): void {
    this.#scheduled = false;
    if (this.#used === 0) return;
    const buffer = this.#buffer!;
    const bytes = buffer.subarray(0, this.#used);
    this.#buffer = undefined;
    this.#used = 0;
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    if (!socket.write(bytes, () => this.#recycle(buffer))) {
      this.#blocked = true;
      if (socket.writableLength > MAX_UNSENT) socket.pause();
    }
  }

  /** Keeps `buffer`, written out, for a later turn. */
  #recycle(buffer: Buffer) {
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
      const grown = Buffer.allocUnsafe(
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
