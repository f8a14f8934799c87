/**
 * One HTTP/2 stream on the server side: the request's headers and body
 * coming in, the response going out, each under flow control.
 *
 * Incoming DATA is handed to `ondata` as it comes; while the stream is
 * paused (or nobody listens) it is kept, and the peer's window is given
 * back only as the consumer takes the bytes, so a slow consumer holds the
 * peer back instead of memory growing. Outgoing DATA leaves as the peer's
 * windows allow; {@linkcode H2Stream.write} says when to wait for
 * {@linkcode H2Stream.drained}.
 *
 * @module
 */
import { ErrorCode, StreamError } from "./errors.ts";
import { Flag, FrameType } from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import type { FrameWriter } from "./_writer.ts";

/**
 * Bytes queued on a stream (not yet sent) past which `write` returns false.
 */
export const HIGH_WATER_MARK = 64 * 1024;

/** What a stream needs from its connection ({@linkcode H2Connection}). */
export interface StreamHost {
  /** Where the frames go. */
  readonly writer: FrameWriter;
  /** The connection's send window. */
  sendWindow: number;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  readonly peerMaxFrameSize: number;
  /** Encodes `fields` into HEADERS (and CONTINUATION) frames. */
  sendHeaders(
    streamId: number,
    fields: HeaderField[],
    endStream: boolean,
  ): void;
  /** `stream` has DATA waiting for the connection window or the socket. */
  waiting(stream: H2Stream): void;
  /** The consumer took `bytes` of `stream`'s data: give back window. */
  consumed(stream: H2Stream, bytes: number): void;
  /** Sends RST_STREAM for `stream`. */
  sendReset(stream: H2Stream, code: number): void;
  /** `stream` is closed both ways: forget it. */
  closed(stream: H2Stream): void;
  /** The handler's work on `stream`, closed before, has ended. */
  settled(stream: H2Stream): void;
}

/** A request's stream; see the module doc. */
export class H2Stream {
  /** The stream identifier. */
  readonly id: number;
  /** The request's header fields, pseudo-headers first, in order. */
  readonly headers: readonly HeaderField[];
  /** Receives request body bytes (while not paused). */
  ondata: ((chunk: Uint8Array) => void) | undefined;
  /** Called once the request body is complete and delivered. */
  onend: (() => void) | undefined;
  /**
   * Called once if the stream closes before the response ended: the peer
   * reset it, the connection was lost, or it was reset from this side.
   */
  onabort: ((code: number) => void) | undefined;

  /** Window the peer may still send into (checked on each DATA frame). */
  recvWindow: number;
  /** Window this side may still send into. */
  sendWindow: number;

  #host: StreamHost;
  #paused = false;
  /** Held by the connection until a handler takes the stream. */
  #held = false;
  /** Work of the handler's (see `working`) not yet settled. */
  #working = 0;
  #inbox: Uint8Array[] = [];
  #remoteEnded = false;
  #endDelivered = false;
  #responded = false;
  #ending = false;
  #trailers: HeaderField[] | undefined;
  #localEnded = false;
  #closed = false;
  #outbox: Uint8Array[] = [];
  /** Bytes of the first outbox chunk already sent. */
  #outOffset = 0;
  #queued = 0;
  #drainWaiters: (() => void)[] = [];

  /** A stream of `host`'s, opened by a request with `headers`. */
  constructor(
    host: StreamHost,
    id: number,
    headers: readonly HeaderField[],
    recvWindow: number,
    sendWindow: number,
  ) {
    this.#host = host;
    this.id = id;
    this.headers = headers;
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** The value of header `name` (lower case; repeats joined with ", "). */
  header(name: string): string | undefined {
    let value: string | undefined;
    for (const [n, v] of this.headers) {
      if (n === name) value = value === undefined ? v : `${value}, ${v}`;
    }
    return value;
  }

  /** Bytes written and not yet handed to the connection (its windows closed). */
  get queued(): number {
    return this.#queued;
  }

  /** Bytes received and kept, not yet delivered. */
  get buffered(): number {
    let bytes = 0;
    for (const chunk of this.#inbox) bytes += chunk.length;
    return bytes;
  }

  /** True once the peer's request body is complete and delivered. */
  get remoteEnded(): boolean {
    return this.#endDelivered;
  }

  /** True once nothing more can be sent (ended, reset or lost). */
  get closed(): boolean {
    return this.#closed || this.#ending;
  }

  /** Keeps incoming data back (the peer is held back by flow control). */
  pause(): void {
    this.#paused = true;
  }

  /** Delivers kept data, and what comes next. */
  resume(): void {
    this.#paused = false;
    this.#deliver();
  }

  /**
   * The handler works on this stream until `work` settles, even once the
   * stream is closed: until then the stream counts against the
   * connection's concurrent streams, so a client resetting calls faster
   * than their handlers end is held back (CVE-2023-44487).
   */
  working(work: Promise<unknown>): void {
    this.#working++;
    const settle = () => {
      if (--this.#working === 0 && this.#closed) this.#host.settled(this);
    };
    work.then(settle, settle);
  }

  /** True while work given to {@linkcode working} has not settled. */
  get busy(): boolean {
    return this.#working > 0;
  }

  /** Keeps what comes in until {@linkcode release} (no handler yet). */
  hold(): void {
    this.#held = true;
  }

  /** Delivers what was held: a handler has taken the stream. */
  release(): void {
    this.#held = false;
    this.#deliver();
  }

  /** Sends the response headers; with `endStream`, the response ends. */
  respond(fields: HeaderField[], endStream = false): void {
    if (this.#closed || this.#responded) return;
    this.#responded = true;
    if (endStream) this.#ending = true;
    this.#host.sendHeaders(this.id, fields, endStream);
    if (endStream) this.#sentEnd();
  }

  /**
   * Sends `data` (kept by reference until sent); false when the stream
   * holds more than it should and the writer should wait for
   * {@linkcode drained}.
   */
  write(data: Uint8Array): boolean {
    if (this.#closed || this.#ending) return true;
    if (data.length > 0) {
      this.#outbox.push(data);
      this.#queued += data.length;
      this.pump();
    }
    return this.#queued < HIGH_WATER_MARK;
  }

  /** Resolves once everything written has been handed on, or the stream closed. */
  drained(): Promise<void> {
    if (this.#queued === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Ends the response (begun with {@linkcode respond}), after the data
   * written so far, with `trailers` (or an empty DATA frame).
   */
  end(trailers?: HeaderField[]): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#trailers = trailers;
    this.pump();
  }

  /** Resets the stream with `code` (abandoning what was not sent). */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.#closed) return;
    this.#host.sendReset(this, code);
    this.abort(code);
  }

  /**
   * Sends what the windows and the socket allow; called again by the
   * connection when they open.
   */
  pump(): void {
    const host = this.#host;
    const writer = host.writer;
    while (this.#outbox.length > 0) {
      const chunk = this.#outbox[0];
      const left = chunk.length - this.#outOffset;
      const n = Math.min(
        left,
        this.sendWindow,
        host.sendWindow,
        host.peerMaxFrameSize,
      );
      if (n <= 0 || writer.blocked) {
        // The stream's own window reopens with its WINDOW_UPDATE.
        if (host.sendWindow <= 0 || writer.blocked) host.waiting(this);
        return;
      }
      const start = this.#outOffset;
      this.#outOffset += n;
      this.#queued -= n;
      this.sendWindow -= n;
      host.sendWindow -= n;
      const last = this.#outOffset === chunk.length;
      if (last) {
        this.#outbox.shift();
        this.#outOffset = 0;
      }
      const endStream = last && this.#outbox.length === 0 && this.#ending &&
        !this.#trailers;
      writer.frameOf(
        FrameType.DATA,
        endStream ? Flag.END_STREAM : 0,
        this.id,
        chunk,
        start,
        start + n,
      );
      if (endStream) {
        this.#sentEnd();
        return;
      }
    }
    if (this.#drainWaiters.length > 0) this.#wakeDrainWaiters();
    if (!this.#ending || this.#localEnded || this.#closed) return;
    if (this.#trailers) host.sendHeaders(this.id, this.#trailers, true);
    else writer.frame(FrameType.DATA, Flag.END_STREAM, this.id);
    this.#sentEnd();
  }

  /** The peer sent DATA (flow control already checked). */
  receive(data: Uint8Array, endStream: boolean): void {
    if (data.length > 0) {
      if (this.#paused || this.#inbox.length > 0 || !this.ondata) {
        this.#inbox.push(data);
      } else {
        this.#host.consumed(this, data.length);
        this.ondata(data);
      }
    }
    if (endStream) this.endRemote();
  }

  /** The peer ended its side (END_STREAM). */
  endRemote(): void {
    if (this.#remoteEnded) {
      throw new StreamError(
        this.id,
        ErrorCode.STREAM_CLOSED,
        "a frame after END_STREAM",
      );
    }
    this.#remoteEnded = true;
    this.#deliver();
    this.#closeIfDone();
  }

  /** True once the peer sent END_STREAM (delivered or not). */
  get remoteClosed(): boolean {
    return this.#remoteEnded;
  }

  /**
   * Closes the stream from outside (a reset either way, the connection
   * lost): the handler hears `onabort` unless its response had ended.
   */
  abort(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#discardInbox();
    this.#outbox = [];
    this.#queued = 0;
    this.#wakeDrainWaiters();
    this.#host.closed(this);
    if (!this.#localEnded) this.onabort?.(code);
  }

  #deliver() {
    if (this.#closed || this.#held) return;
    while (!this.#paused && this.#inbox.length > 0 && this.ondata) {
      const chunk = this.#inbox.shift()!;
      this.#host.consumed(this, chunk.length);
      this.ondata(chunk);
      if (this.#closed) return;
    }
    if (
      this.#remoteEnded && !this.#endDelivered && this.#inbox.length === 0 &&
      !this.#paused
    ) {
      this.#endDelivered = true;
      this.onend?.();
      this.#closeIfDone();
    }
  }

  /** The END_STREAM flag went out. */
  #sentEnd() {
    this.#localEnded = true;
    this.#wakeDrainWaiters();
    if (!this.#remoteEnded) {
      // The response is complete before the request: what the peer still
      // sends is kept unread, so flow control holds it back until it reads
      // the response and resets the stream. (RST_STREAM NO_ERROR, which
      // RFC 9113 §8.1 allows, leaves Deno's node:http2 client hanging.)
      this.#paused = true;
      return;
    }
    this.#closeIfDone();
  }

  #closeIfDone() {
    if (this.#localEnded && this.#remoteEnded && !this.#closed) {
      this.#closed = true;
      this.#discardInbox();
      this.#host.closed(this);
    }
  }

  /** Gives back the window of data nobody will read. */
  #discardInbox() {
    let bytes = 0;
    for (const chunk of this.#inbox) bytes += chunk.length;
    this.#inbox = [];
    if (bytes > 0) this.#host.consumed(this, bytes);
  }

  #wakeDrainWaiters() {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
