/**
 * Keeps a client's GOAWAY frames away from Deno's HTTP/2 server.
 *
 * Deno 2.9's `node:http2` aborts the whole process inside nghttp2
 * (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'`)
 * when a client sends GOAWAY after it has had calls in flight at once —
 * measured here, 5 of 6 times after 300 calls 64 at a time and a graceful
 * `session.close()`. A client's GOAWAY only says it opens no more streams;
 * it then closes the connection once its calls are answered, which the
 * server handles without trouble. So the frames are cut out of the bytes
 * before nghttp2 reads them, and everything else passes untouched.
 *
 * The client's RST_STREAM frames can be taken over the same way (see the
 * listener): nghttp2 counts the streams a client resets and ends the
 * connection past 1000 of them, a count a reset made by the daemon escapes.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";

/** The client connection preface: passed through before any frame. */
const PREFACE_LENGTH = 24;
/** An HTTP/2 frame header: length (24 bits), type, flags, stream id. */
const HEADER_LENGTH = 9;
/** The GOAWAY frame type. */
const GOAWAY = 0x7;
/** The RST_STREAM frame type. */
const RST_STREAM = 0x3;

/**
 * Cuts GOAWAY frames out of one connection's incoming bytes, and with
 * `onReset`, RST_STREAM frames too, reporting each reset stream's id.
 */
export class GoawayFilter {
  #onReset: ((id: number) => void) | undefined;

  /** A filter; `onReset` takes over the client's stream resets. */
  constructor(onReset?: (id: number) => void) {
    this.#onReset = onReset;
  }

  #preface = PREFACE_LENGTH;
  #header = Buffer.alloc(HEADER_LENGTH);
  #headerFilled = 0;
  #payloadLeft = 0;
  #dropping = false;

  /** The bytes of `chunk` to pass on (`chunk` itself when nothing is cut). */
  push(chunk: Buffer): Buffer {
    const kept: Buffer[] = [];
    let start = 0; // where the current run of kept bytes began
    let pos = 0;
    const cut = () => {
      if (pos > start) kept.push(chunk.subarray(start, pos));
    };
    while (pos < chunk.length) {
      if (this.#preface > 0) {
        const n = Math.min(this.#preface, chunk.length - pos);
        this.#preface -= n;
        pos += n;
      } else if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, chunk.length - pos);
        this.#payloadLeft -= n;
        pos += n;
        if (this.#dropping) start = pos;
      } else if (
        this.#headerFilled === 0 && chunk.length - pos >= HEADER_LENGTH
      ) {
        // A whole frame header in this chunk: the common case.
        this.#payloadLeft = chunk.readUIntBE(pos, 3);
        this.#dropping = this.#drops(chunk.subarray(pos, pos + HEADER_LENGTH));
        if (this.#dropping) cut();
        pos += HEADER_LENGTH;
        if (this.#dropping) start = pos;
      } else {
        // A frame header split between chunks: held back until whole.
        cut();
        const n = Math.min(
          HEADER_LENGTH - this.#headerFilled,
          chunk.length - pos,
        );
        this.#header.set(chunk.subarray(pos, pos + n), this.#headerFilled);
        this.#headerFilled += n;
        pos += n;
        start = pos;
        if (this.#headerFilled < HEADER_LENGTH) break;
        this.#headerFilled = 0;
        this.#payloadLeft = this.#header.readUIntBE(0, 3);
        this.#dropping = this.#drops(this.#header);
        if (!this.#dropping) kept.push(Buffer.from(this.#header));
      }
    }
    if (kept.length === 0 && start === 0) return chunk;
    cut();
    return Buffer.concat(kept);
  }

  /** Whether the frame with this header is cut out (a reset is reported). */
  #drops(header: Buffer): boolean {
    if (header[3] === GOAWAY) return true;
    if (header[3] !== RST_STREAM || !this.#onReset) return false;
    this.#onReset(header.readUInt32BE(5) & 0x7fffffff);
    return true;
  }
}

/**
 * Makes `socket` emit its data with GOAWAY frames cut out, for the HTTP/2
 * session that is about to read it; with `onReset`, the client's stream
 * resets are cut out too and reported instead.
 */
export function dropClientGoaways(
  socket: net.Socket,
  onReset?: (id: number) => void,
): void {
  const filter = new GoawayFilter(onReset);
  const emit = socket.emit.bind(socket) as (
    event: string | symbol,
    ...args: unknown[]
  ) => boolean;
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== "data") return emit(event, ...args);
    const data = filter.push(args[0] as Buffer);
    return data.length === 0 ? true : emit(event, data);
  }) as typeof socket.emit;
}
