/**
 * Fewer, larger socket writes for an HTTP/2 connection.
 *
 * Deno's `node:http2` session writes every chunk nghttp2 hands it (a frame
 * header, a payload) with its own `socket.write`, each a `sendto` of its
 * own, and Deno's `writev` (where `cork` leads) makes one `sendto` per
 * buffer too. A unary call's answer took four or five of them, each
 * costing more than the rest of the call's work on a loaded machine. The
 * batch keeps the chunks and writes them as one buffer once the calls that
 * produced them have run as far as they can (an immediate later).
 *
 * A call's trailers come later still: the session sends them from an
 * immediate queued when the stream asks for them, after its message went
 * out. A call about to end holds the batch ({@linkcode WriteBatch.hold})
 * until it has handed over its trailers, so that message and status leave
 * in one write — and a client that cancels a call once it has its message
 * (containerd's `ReadAt` does) finds the call complete instead of
 * resetting it. A hold only defers a write by a few turns of the event
 * loop: a stream held back by flow control cannot stall the connection.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";

/** Turns of the event loop a pending write waits for held calls. */
const MAX_DEFERRALS = 2;

/** Gathers one socket's writes; see the module doc. */
export class WriteBatch {
  #socket: net.Socket;
  #write: (chunk: Uint8Array) => boolean;
  #chunks: Uint8Array[] = [];
  #holds = 0;
  #deferrals = 0;
  /** Identifies the one scheduled flush that may run (0: none). */
  #scheduled = 0;
  #nextId = 0;

  /**
   * Takes over `socket.write` (chunks written without an encoding or
   * callback are gathered) and `socket.end` (which writes what is pending
   * first).
   */
  constructor(socket: net.Socket) {
    this.#socket = socket;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    const end = socket.end.bind(socket) as (...args: unknown[]) => net.Socket;
    this.#write = write;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (rest.length > 0 || !(chunk instanceof Uint8Array)) {
        this.flush();
        return write(chunk, ...rest);
      }
      this.#chunks.push(chunk);
      if (!this.#scheduled) this.#schedule();
      return true;
    }) as typeof socket.write;
    socket.end = ((...args: unknown[]) => {
      this.flush();
      return end(...args);
    }) as typeof socket.end;
  }

  /**
   * Defers pending writes until the returned function is called (at most a
   * few turns of the event loop). Calling it more than once is harmless.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Scheduled now, the flush runs after the immediates already queued
      // (the trailers the caller just handed over).
      if (--this.#holds === 0 && this.#chunks.length > 0) this.#schedule();
    };
  }

  /** Writes what is pending now. */
  flush(): void {
    this.#scheduled = 0;
    this.#deferrals = 0;
    if (this.#chunks.length === 0) return;
    const chunks = this.#chunks;
    this.#chunks = [];
    if (this.#socket.destroyed) return;
    this.#write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  }

  #schedule() {
    const id = this.#scheduled = ++this.#nextId;
    setImmediate(() => {
      if (this.#scheduled !== id) return;
      if (this.#holds > 0 && this.#deferrals < MAX_DEFERRALS) {
        this.#deferrals++;
        this.#schedule();
        return;
      }
      this.flush();
    });
  }
}
