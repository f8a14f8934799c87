/**
 * ttrpc framing over a byte stream (a unix-socket `Deno.Conn`).
 *
 * Every message is a 10-byte header — data length (u32 BE), stream id
 * (u32 BE), message type (u8: 1 request, 2 response), flags (u8) — followed by
 * the data. Data longer than {@linkcode MESSAGE_LENGTH_MAX} is refused: on
 * send before anything is written, on receive by discarding the data and
 * reporting a per-stream `ResourceExhausted` error, leaving the channel usable.
 *
 * @module
 */

import { BerthError, Code } from "../types/errors.ts";

/** Size of the frame header in bytes. */
export const MESSAGE_HEADER_LENGTH = 10;
/** Largest data length accepted or sent (4 MiB). */
export const MESSAGE_LENGTH_MAX = 4 << 20;

/** Frame message types. */
export enum MessageType {
  /** A client request. */
  Request = 1,
  /** A server response. */
  Response = 2,
}

/** A frame header. */
export interface FrameHeader {
  /** Length of the data following the header. */
  length: number;
  /** Stream the frame belongs to (odd for client-initiated streams). */
  streamId: number;
  /** Message type byte. */
  type: number;
  /** Flags byte (reserved). */
  flags: number;
}

/** A received frame: data, or an error for that stream (oversized data). */
export type Frame =
  | { header: FrameHeader; data: Uint8Array; error?: undefined }
  | { header: FrameHeader; data?: undefined; error: BerthError };

/** The byte stream a channel runs on; `Deno.Conn` satisfies it. */
export interface ByteStream {
  /** Reads into `p`; resolves the count read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the stream. */
  close(): void;
}

/** Encodes a frame header into the first 10 bytes of `into` (new ones by default). */
export function encodeHeader(
  h: FrameHeader,
  into: Uint8Array = new Uint8Array(MESSAGE_HEADER_LENGTH),
): Uint8Array {
  into[0] = h.length >>> 24;
  into[1] = h.length >>> 16;
  into[2] = h.length >>> 8;
  into[3] = h.length;
  into[4] = h.streamId >>> 24;
  into[5] = h.streamId >>> 16;
  into[6] = h.streamId >>> 8;
  into[7] = h.streamId;
  into[8] = h.type;
  into[9] = h.flags;
  return into;
}

/** Decodes the first 10 bytes of `b` as a frame header. */
export function decodeHeader(b: Uint8Array): FrameHeader {
  const v = new DataView(b.buffer, b.byteOffset, MESSAGE_HEADER_LENGTH);
  return {
    length: v.getUint32(0),
    streamId: v.getUint32(4),
    type: v.getUint8(8),
    flags: v.getUint8(9),
  };
}

function tooLarge(length: number): BerthError {
  return new BerthError(
    Code.ResourceExhausted,
    `ttrpc: message length ${length} exceeds maximum message size of ${MESSAGE_LENGTH_MAX}`,
  );
}

/** Reads and writes ttrpc frames on a {@linkcode ByteStream}. */
export class Channel {
  readonly #conn: ByteStream;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #writing: Promise<void> = Promise.resolve();

  /** Wraps `conn`; the channel owns it from now on. */
  constructor(conn: ByteStream) {
    this.#conn = conn;
  }

  /**
   * Receives the next frame; resolves null on a clean end of stream between
   * frames, and throws if the stream ends inside a frame.
   */
  async recv(): Promise<Frame | null> {
    if (!await this.#fill(MESSAGE_HEADER_LENGTH, true)) return null;
    const header = decodeHeader(this.#buf.subarray(this.#start));
    this.#start += MESSAGE_HEADER_LENGTH;
    if (header.length > MESSAGE_LENGTH_MAX) {
      await this.#discard(header.length);
      return { header, error: tooLarge(header.length) };
    }
    await this.#fill(header.length, false);
    const data = this.#buf.slice(this.#start, this.#start + header.length);
    this.#start += header.length;
    return { header, data };
  }

  /**
   * Sends one frame. Concurrent sends are serialized so frames never
   * interleave. Throws `ResourceExhausted` for oversized data, sending nothing.
   */
  send(streamId: number, type: MessageType, data: Uint8Array): Promise<void> {
    if (data.length > MESSAGE_LENGTH_MAX) {
      return Promise.reject(tooLarge(data.length));
    }
    const frame = new Uint8Array(MESSAGE_HEADER_LENGTH + data.length);
    encodeHeader({ length: data.length, streamId, type, flags: 0 }, frame);
    frame.set(data, MESSAGE_HEADER_LENGTH);
    const p = this.#writing.then(() => this.#writeAll(frame));
    this.#writing = p.catch(() => {});
    return p;
  }

  /** Closes the underlying stream; pending reads end. Idempotent. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #writeAll(p: Uint8Array): Promise<void> {
    let off = 0;
    while (off < p.length) off += await this.#conn.write(p.subarray(off));
  }

  /** Ensures `n` buffered bytes; false on EOF before any byte if `eofOk`. */
  async #fill(n: number, eofOk: boolean): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#buf.length < n) {
      const next = new Uint8Array(Math.max(n, this.#buf.length));
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    } else {
      this.#buf.copyWithin(0, this.#start, this.#end);
    }
    this.#end -= this.#start;
    this.#start = 0;
    while (this.#end < n) {
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) {
        if (eofOk && this.#end === 0) return false;
        throw new BerthError(
          Code.Unavailable,
          "ttrpc: connection closed mid-message",
        );
      }
      this.#end += got;
    }
    return true;
  }

  async #discard(n: number): Promise<void> {
    let left = n;
    for (;;) {
      const have = Math.min(left, this.#end - this.#start);
      this.#start += have;
      left -= have;
      if (left === 0) return;
      this.#start = this.#end = 0;
      const got = await this.#conn.read(this.#buf);
      if (got === null) {
        throw new BerthError(
          Code.Unavailable,
          "ttrpc: connection closed mid-message",
        );
      }
      this.#end = got;
    }
  }
}
