/**
 * The server side of one HTTP/2 connection (RFC 9113) over a socket
 * (a `Deno.Conn`, read in a loop into one reused buffer): the
 * preface and SETTINGS exchange, the stream state machine, flow control
 * both ways, PING, RST_STREAM and GOAWAY.
 *
 * Errors are answered as the RFC says: a connection error with GOAWAY
 * carrying its code, then the socket is closed; a stream error with
 * RST_STREAM. Frames are written through one buffer per turn of the event
 * loop (see `_writer.ts`).
 *
 * @module
 */
import { ConnectionError, ErrorCode, StreamError } from "./errors.ts";
import {
  CLIENT_PREFACE,
  decodeGoaway,
  decodePriority,
  decodeSettings,
  decodeUint32,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  encodeGoaway,
  encodeSettings,
  encodeUint32,
  Flag,
  type Frame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  Setting,
  unpad,
} from "./frames.ts";
import {
  type HeaderField,
  HeaderListTooLargeError,
  HpackDecoder,
  HpackEncoder,
  HpackError,
} from "./hpack.ts";
import { H2Stream, type StreamHost } from "./stream.ts";
import {
  CalmBudget,
  type Clock,
  SETTINGS_TIMEOUT_MS,
  SYSTEM_CLOCK,
} from "./_limits.ts";
import { type ByteSink, FrameWriter } from "./_writer.ts";

/** The byte stream a connection is served on: a `Deno.Conn`, or one like it. */
export interface Transport extends ByteSink {
  /** Reads into `buffer`; resolves with how many bytes, null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Closes the connection (a read waiting rejects). */
  close(): void;
}

/** Options for {@linkcode H2Connection}. */
export interface ConnectionOptions {
  /** Called for each new request stream, with its headers read. */
  onStream(stream: H2Stream): void;
  /** Called once the connection is closed. */
  onClose?(): void;
  /** Streams open at once before new ones are refused (default 1000). */
  maxConcurrentStreams?: number;
  /** Bytes a peer may send on one stream unread (default 1 MiB). */
  streamWindow?: number;
  /** Bytes a peer may send on all streams unread (default 8 MiB). */
  connectionWindow?: number;
  /** Largest request header list accepted (default 64 KiB). */
  maxHeaderListSize?: number;
  /**
   * Milliseconds the client has to acknowledge the server's SETTINGS
   * (default 10 s).
   */
  settingsTimeout?: number;
  /** The clock of the connection's timers and limits (tests replace it). */
  clock?: Clock;
}

/** Stream ids reset from this side remembered, to ignore what follows. */
const MAX_REMEMBERED_RESETS = 4096;

/**
 * Milliseconds the last frames (a GOAWAY) have to leave before the socket
 * is destroyed anyway (a client that does not read; Go's goAwayTimeout).
 */
const HANG_UP_TIMEOUT_MS = 1000;

/** The highest stream id there can be: a GOAWAY naming it refuses none. */
const LAST_STREAM_ID = 2 ** 31 - 1;

/** Bytes read from the socket at once (its reads reuse one buffer). */
const READ_SIZE = 64 << 10;

/** The payload of the PING that follows a graceful GOAWAY. */
const SHUTDOWN_PING = new TextEncoder().encode("shutdown");

/** What a header block spanning CONTINUATION frames has gathered. */
interface PendingHeaders {
  streamId: number;
  flags: number;
  selfDependent: boolean;
  chunks: Uint8Array[];
  size: number;
  /** Bytes of its frames, headers included: empty frames count too. */
  received: number;
}

/** One client connection; see the module doc. */
export class H2Connection {
  #conn: Transport;
  #options: ConnectionOptions;
  #writer: FrameWriter;
  #decoder = new FrameDecoder();
  #hpackIn: HpackDecoder;
  #hpackOut = new HpackEncoder();
  #streams = new Map<number, H2Stream>();
  #waiting = new Set<H2Stream>();
  #resets = new Set<number>();
  #host: StreamHost;
  #maxStreams: number;
  #streamWindow: number;
  #connectionWindow: number;
  #maxHeaderBlock: number;
  #clock: Clock;
  #calm: CalmBudget;
  #settingsTimer: unknown;
  /** Streams closed while their handler still works (`H2Stream.working`). */
  #busy = new Set<H2Stream>();
  /** Streams waiting for a handler while too many work (in order). */
  #queued = new Set<H2Stream>();

  #prefaceMatched = 0;
  #settingsSeen = false;
  #pending: PendingHeaders | undefined;
  #highestId = 0;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  #sendWindow = DEFAULT_WINDOW;
  #recvWindow: number;
  #recvUnacked = 0;
  #unacked = new Map<H2Stream, number>();
  #peerGoaway = false;
  /** Whether the first request came from grpc-go (undefined before it). */
  #goClient: boolean | undefined;
  /** Shutting down (see `shutdown`). */
  #goingAway = false;
  /** Shutting down, and the client knows (or is not told): new streams are refused. */
  #drained = false;
  #closing = false;
  /** The transport is closed (nothing more is read or written). */
  #destroyed = false;
  #readingPaused = false;
  #closed = false;

  /**
   * Serves `conn`; `head` are bytes already read from it (the listener's
   * peek at the preface).
   */
  constructor(
    conn: Transport,
    options: ConnectionOptions,
    head?: Uint8Array,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#maxStreams = options.maxConcurrentStreams ?? 1000;
    this.#streamWindow = options.streamWindow ?? 1 << 20;
    this.#connectionWindow = options.connectionWindow ?? 8 << 20;
    const maxHeaderListSize = options.maxHeaderListSize ?? 64 << 10;
    this.#maxHeaderBlock = maxHeaderListSize + (64 << 10);
    this.#hpackIn = new HpackDecoder({ maxHeaderListSize });
    this.#recvWindow = this.#connectionWindow;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#calm = new CalmBudget(this.#clock);
    this.#writer = new FrameWriter(conn, () => this.#pumpWaiting());
    this.#host = this.#makeHost();

    this.#writer.frame(
      FrameType.SETTINGS,
      0,
      0,
      encodeSettings([
        [Setting.MAX_CONCURRENT_STREAMS, this.#maxStreams],
        [Setting.INITIAL_WINDOW_SIZE, this.#streamWindow],
        [Setting.MAX_HEADER_LIST_SIZE, maxHeaderListSize],
      ]),
    );
    if (this.#connectionWindow > DEFAULT_WINDOW) {
      this.#writer.frame(
        FrameType.WINDOW_UPDATE,
        0,
        0,
        encodeUint32(this.#connectionWindow - DEFAULT_WINDOW),
      );
    }
    this.#settingsTimer = this.#clock.setTimeout(
      () =>
        this.#fail(
          ErrorCode.SETTINGS_TIMEOUT,
          "the SETTINGS were not acknowledged in time",
        ),
      options.settingsTimeout ?? SETTINGS_TIMEOUT_MS,
    );

    this.#readLoop(head);
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Bytes answered but not yet taken by the socket. */
  get unsent(): number {
    return this.#writer.unsent;
  }

  /**
   * True while the connection does not read: its peer left too much
   * unread (see `_writer.ts`).
   */
  get readingPaused(): boolean {
    return this.#readingPaused;
  }

  /**
   * Ends the connection gracefully: the streams open now are served to
   * their end, new ones are refused (REFUSED_STREAM: a client may retry
   * them elsewhere), and the socket ends once none is left (an idle one
   * at once). ({@linkcode close} ends streams sooner.)
   *
   * A Go gRPC client (known by its first request) is first told with
   * GOAWAY (NO_ERROR) and a PING, and the streams it opens until it
   * answers are served too, so that none is lost on its way: the GOAWAY
   * names no last stream (2^31-1, as RFC 9113 §6.8 suggests). Other
   * clients get no GOAWAY: Deno 2.9's `node:http2` client (nghttp2,
   * under berth's own `ctr`) fails the calls it has open on one, and
   * aborted its process on one when idle (measured).
   */
  shutdown(): void {
    if (this.#closing || this.#goingAway) return;
    if (!this.#goClient) {
      if (this.#streams.size === 0) {
        this.close();
        return;
      }
      this.#goingAway = true;
      this.#drained = true;
      return;
    }
    this.#goingAway = true;
    this.#writer.frame(
      FrameType.GOAWAY,
      0,
      0,
      encodeGoaway(LAST_STREAM_ID, ErrorCode.NO_ERROR, "shutting down"),
    );
    this.#writer.frame(FrameType.PING, 0, 0, SHUTDOWN_PING);
  }

  /** Abandons the open streams and closes the socket at once. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#clearSettingsTimer();
    this.#abortAll(ErrorCode.CANCEL);
    this.#destroy();
  }

  /**
   * Reads the socket until it ends, into one buffer: each chunk is copied
   * out of it, as frames hand views of their chunk to streams that keep
   * them. The connection stops reading while its peer leaves too much
   * unread, and ends (its streams lost) with the socket.
   */
  async #readLoop(head: Uint8Array | undefined) {
    if (head && head.length > 0) this.#receive(head);
    const buffer = new Uint8Array(READ_SIZE);
    try {
      while (!this.#destroyed) {
        if (this.#writer.behind) {
          this.#writer.flush();
          this.#readingPaused = true;
          await this.#writer.drained();
          this.#readingPaused = false;
          continue;
        }
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#receive(buffer.slice(0, n));
      }
    } catch {
      // Reset by the peer, or closed here.
    }
    if (!this.#destroyed) {
      // The peer ended its side: what was answered still leaves.
      this.#closing = true;
      this.#clearSettingsTimer();
      await this.#endSocket();
    }
    this.#destroy();
    this.#lost();
  }

  #receive(chunk: Uint8Array) {
    if (this.#closing) return;
    let bytes = chunk;
    if (this.#prefaceMatched < CLIENT_PREFACE.length) {
      const n = Math.min(
        CLIENT_PREFACE.length - this.#prefaceMatched,
        bytes.length,
      );
      for (let i = 0; i < n; i++) {
        if (bytes[i] !== CLIENT_PREFACE[this.#prefaceMatched + i]) {
          this.#fail(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 preface");
          return;
        }
      }
      this.#prefaceMatched += n;
      bytes = bytes.subarray(n);
      if (bytes.length === 0) return;
    }
    try {
      this.#decoder.push(bytes, this.#onFrame);
    } catch (err) {
      this.#failWith(err);
    }
  }

  #onFrame = (frame: Frame): boolean => {
    try {
      this.#handle(frame);
    } catch (err) {
      if (err instanceof StreamError) this.#resetStream(err.streamId, err.code);
      else this.#failWith(err);
    }
    return !this.#closing;
  };

  #failWith(err: unknown) {
    if (err instanceof ConnectionError) this.#fail(err.code, err.message);
    else this.#fail(ErrorCode.INTERNAL_ERROR, String(err));
  }

  #handle(frame: Frame) {
    if (this.#pending && frame.type !== FrameType.CONTINUATION) {
      throw protocolError(
        `frame type ${frame.type} inside the header block of stream ${this.#pending.streamId}`,
      );
    }
    if (!this.#settingsSeen) {
      if (frame.type !== FrameType.SETTINGS || frame.flags & Flag.ACK) {
        throw protocolError("the first frame was not SETTINGS");
      }
      this.#settingsSeen = true;
    }
    switch (frame.type) {
      case FrameType.DATA:
        return this.#onData(frame);
      case FrameType.HEADERS:
        return this.#onHeaders(frame);
      case FrameType.PRIORITY:
        return this.#onPriority(frame);
      case FrameType.RST_STREAM:
        return this.#onReset(frame);
      case FrameType.SETTINGS:
        return this.#onSettings(frame);
      case FrameType.PUSH_PROMISE:
        throw protocolError("a client sent PUSH_PROMISE");
      case FrameType.PING:
        return this.#onPing(frame);
      case FrameType.GOAWAY:
        return this.#onGoaway(frame);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(frame);
      case FrameType.CONTINUATION:
        return this.#onContinuation(frame);
    }
    // Extension frames are ignored (RFC 9113 §4.1), but not for free.
    this.#glitch("extension frames");
  }

  /**
   * A frame that makes no progress (see `_limits.ts`): a client sending
   * them faster than answers and time allow is flooding.
   */
  #glitch(what: string) {
    if (!this.#calm.spend()) {
      throw new ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `too many ${what}`,
      );
    }
  }

  #onData(frame: Frame) {
    const id = frame.streamId;
    if (id === 0) throw protocolError("DATA on stream 0");
    const length = frame.payload.length;
    if (length === 0 && !(frame.flags & Flag.END_STREAM)) {
      this.#glitch("empty DATA frames");
    }
    this.#recvWindow -= length;
    if (this.#recvWindow < 0) {
      throw new ConnectionError(
        ErrorCode.FLOW_CONTROL_ERROR,
        "DATA past the connection window",
      );
    }
    const stream = this.#streams.get(id);
    if (!stream) {
      if (id > this.#highestId) {
        throw protocolError(`DATA on idle stream ${id}`);
      }
      this.#consumed(undefined, length);
      if (this.#resets.has(id)) return;
      this.#glitch("frames on closed streams");
      throw new StreamError(
        id,
        ErrorCode.STREAM_CLOSED,
        "DATA on a closed stream",
      );
    }
    if (stream.remoteClosed) {
      this.#consumed(undefined, length);
      throw new StreamError(
        id,
        ErrorCode.STREAM_CLOSED,
        "DATA after END_STREAM",
      );
    }
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      this.#consumed(undefined, length);
      throw new StreamError(
        id,
        ErrorCode.FLOW_CONTROL_ERROR,
        "DATA past the stream window",
      );
    }
    const { body } = unpad(frame);
    if (body.length < length) this.#consumed(stream, length - body.length);
    stream.receive(body, (frame.flags & Flag.END_STREAM) !== 0);
  }

  #onHeaders(frame: Frame) {
    const id = frame.streamId;
    if (id === 0) throw protocolError("HEADERS on stream 0");
    const { body, priority } = unpad(frame);
    const pending: PendingHeaders = {
      streamId: id,
      flags: frame.flags,
      selfDependent: priority?.dependency === id,
      chunks: [body],
      size: body.length,
      received: FRAME_HEADER_LENGTH + frame.payload.length,
    };
    if (frame.flags & Flag.END_HEADERS) this.#headerBlock(pending, body);
    else this.#pending = pending;
  }

  #onContinuation(frame: Frame) {
    const pending = this.#pending;
    if (!pending || pending.streamId !== frame.streamId) {
      throw protocolError(
        `CONTINUATION out of place on stream ${frame.streamId}`,
      );
    }
    if (frame.payload.length > 0) pending.chunks.push(frame.payload);
    pending.size += frame.payload.length;
    pending.received += FRAME_HEADER_LENGTH + frame.payload.length;
    if (pending.received > this.#maxHeaderBlock) {
      throw new ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `a header block of more than ${this.#maxHeaderBlock} bytes`,
      );
    }
    if (!(frame.flags & Flag.END_HEADERS)) return;
    this.#pending = undefined;
    const block = new Uint8Array(pending.size);
    let offset = 0;
    for (const chunk of pending.chunks) {
      block.set(chunk, offset);
      offset += chunk.length;
    }
    this.#headerBlock(pending, block);
  }

  /** A complete header block: a request, or a request's trailers. */
  #headerBlock(pending: PendingHeaders, block: Uint8Array) {
    const id = pending.streamId;
    if (id % 2 === 0) throw protocolError(`HEADERS on even stream ${id}`);
    let fields: HeaderField[] | undefined;
    try {
      fields = this.#hpackIn.decode(block);
    } catch (err) {
      if (err instanceof HpackError) {
        throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message);
      }
      if (!(err instanceof HeaderListTooLargeError)) throw err;
    }
    const endStream = (pending.flags & Flag.END_STREAM) !== 0;
    const stream = this.#streams.get(id);
    if (stream) {
      if (stream.remoteClosed) {
        throw new StreamError(
          id,
          ErrorCode.STREAM_CLOSED,
          "HEADERS after END_STREAM",
        );
      }
      if (!endStream) {
        throw new StreamError(
          id,
          ErrorCode.PROTOCOL_ERROR,
          "trailers without END_STREAM",
        );
      }
      stream.endRemote();
      return;
    }
    if (id <= this.#highestId) {
      if (this.#resets.has(id)) return;
      throw protocolError(`stream ${id} is not above ${this.#highestId}`);
    }
    this.#highestId = id;
    if (this.#drained) {
      // Opened after the client saw the GOAWAY: it may retry elsewhere.
      this.#sendReset(id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (this.#peerGoaway) return;
    if (pending.selfDependent) {
      throw new StreamError(
        id,
        ErrorCode.PROTOCOL_ERROR,
        "a stream depends on itself",
      );
    }
    if (!fields) {
      // Too large a header list: this request is refused, the connection
      // (whose HPACK state stayed in step) serves on.
      this.#sendHeaders(id, [[":status", "431"]], true);
      if (!endStream) this.#sendReset(id, ErrorCode.NO_ERROR);
      else this.#remember(id);
      return;
    }
    if (this.#streams.size >= this.#maxStreams) {
      this.#glitch("streams past MAX_CONCURRENT_STREAMS");
      throw new StreamError(
        id,
        ErrorCode.REFUSED_STREAM,
        `more than ${this.#maxStreams} streams`,
      );
    }
    const malformed = checkRequest(fields);
    if (malformed) {
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, malformed);
    }
    const created = new H2Stream(
      this.#host,
      id,
      fields,
      this.#streamWindow,
      this.#peerInitialWindow,
    );
    if (this.#running() >= this.#maxStreams) {
      // Handlers of streams the client reset still work: this one waits.
      created.hold();
      this.#streams.set(id, created);
      this.#queued.add(created);
    } else {
      this.#streams.set(id, created);
      this.#options.onStream(created);
    }
    this.#goClient ??= isGoClient(created);
    if (endStream) created.endRemote();
  }

  /** Streams whose handler runs: open ones, and closed ones still working. */
  #running(): number {
    return this.#streams.size - this.#queued.size + this.#busy.size;
  }

  /** Hands waiting streams to handlers while fewer than the most work. */
  #startQueued() {
    for (const stream of this.#queued) {
      if (this.#closing || this.#running() >= this.#maxStreams) return;
      this.#queued.delete(stream);
      this.#options.onStream(stream);
      stream.release();
    }
  }

  #onPriority(frame: Frame) {
    if (frame.streamId === 0) throw protocolError("PRIORITY on stream 0");
    // Deprecated (RFC 9113 §5.3.2) and unused here.
    this.#glitch("PRIORITY frames");
    if (frame.payload.length !== 5) {
      throw new StreamError(
        frame.streamId,
        ErrorCode.FRAME_SIZE_ERROR,
        "PRIORITY not of 5 bytes",
      );
    }
    if (decodePriority(frame.payload).dependency === frame.streamId) {
      throw new StreamError(
        frame.streamId,
        ErrorCode.PROTOCOL_ERROR,
        "a stream depends on itself",
      );
    }
  }

  #onReset(frame: Frame) {
    const id = frame.streamId;
    if (id === 0) throw protocolError("RST_STREAM on stream 0");
    const code = decodeUint32(frame);
    if (id > this.#highestId) {
      throw protocolError(`RST_STREAM on idle stream ${id}`);
    }
    const stream = this.#streams.get(id);
    // A reset counts against the client when no handler ran for it (as in
    // Go's server): cancelling calls that ran is what clients do.
    if (!stream || this.#queued.has(stream)) {
      this.#glitch("resets of streams that never ran");
    }
    stream?.abort(code);
  }

  #onSettings(frame: Frame) {
    if (frame.streamId !== 0) throw protocolError("SETTINGS on a stream");
    if (frame.flags & Flag.ACK) {
      if (frame.payload.length !== 0) {
        throw new ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          "SETTINGS ack with a payload",
        );
      }
      if (this.#settingsTimer === undefined) {
        this.#glitch("SETTINGS acknowledgements");
      }
      this.#clearSettingsTimer();
      return;
    }
    this.#glitch("SETTINGS frames");
    let grown = false;
    for (const [id, value] of decodeSettings(frame.payload)) {
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          this.#hpackOut.setMaxTableSize(Math.min(value, 4096));
          break;
        case Setting.ENABLE_PUSH:
          if (value > 1) throw protocolError(`ENABLE_PUSH ${value}`);
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            throw new ConnectionError(
              ErrorCode.FLOW_CONTROL_ERROR,
              `INITIAL_WINDOW_SIZE ${value}`,
            );
          }
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const stream of this.#streams.values()) {
            stream.sendWindow += delta;
            if (stream.sendWindow > MAX_WINDOW) {
              throw new ConnectionError(
                ErrorCode.FLOW_CONTROL_ERROR,
                `stream ${stream.id}'s window past 2^31-1`,
              );
            }
          }
          grown ||= delta > 0;
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            throw protocolError(`MAX_FRAME_SIZE ${value}`);
          }
          this.#peerMaxFrameSize = value;
          break;
      }
    }
    this.#writer.frame(FrameType.SETTINGS, Flag.ACK, 0);
    if (grown) { for (const stream of this.#streams.values()) stream.pump(); }
  }

  #onPing(frame: Frame) {
    if (frame.streamId !== 0) throw protocolError("PING on a stream");
    if (frame.payload.length !== 8) {
      throw new ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        "PING not of 8 bytes",
      );
    }
    if (
      frame.flags & Flag.ACK && this.#goingAway && !this.#drained &&
      frame.payload.every((byte, i) => byte === SHUTDOWN_PING[i])
    ) {
      this.#drained = true;
      if (this.#streams.size === 0) this.#hangUp();
      return;
    }
    // Other acknowledgements answer nothing this server sent.
    this.#glitch("PING frames");
    if (!(frame.flags & Flag.ACK)) {
      this.#writer.frame(FrameType.PING, Flag.ACK, 0, frame.payload);
    }
  }

  #onGoaway(frame: Frame) {
    if (frame.streamId !== 0) throw protocolError("GOAWAY on a stream");
    decodeGoaway(frame.payload);
    // The peer opens no more streams; those open finish.
    this.#peerGoaway = true;
    if (this.#streams.size === 0) this.#hangUp();
  }

  #onWindowUpdate(frame: Frame) {
    const id = frame.streamId;
    const increment = decodeUint32(frame);
    if (id === 0) {
      if (increment === 0) throw protocolError("WINDOW_UPDATE of 0");
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) {
        throw new ConnectionError(
          ErrorCode.FLOW_CONTROL_ERROR,
          "the connection window past 2^31-1",
        );
      }
      this.#pumpWaiting();
      return;
    }
    const stream = this.#streams.get(id);
    if (!stream) {
      if (id > this.#highestId) {
        throw protocolError(`WINDOW_UPDATE on idle stream ${id}`);
      }
      this.#glitch("WINDOW_UPDATE frames on closed streams");
      return;
    }
    if (increment === 0) {
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      throw new StreamError(
        id,
        ErrorCode.FLOW_CONTROL_ERROR,
        "the stream window past 2^31-1",
      );
    }
    stream.pump();
  }

  /** Lets streams waiting on the connection window or the socket send. */
  #pumpWaiting() {
    for (const stream of this.#waiting) {
      if (this.#sendWindow <= 0 || this.#writer.blocked) return;
      this.#waiting.delete(stream);
      stream.pump();
    }
  }

  /** Bytes of `stream` (or of a stream gone) were read or dropped. */
  #consumed(stream: H2Stream | undefined, bytes: number) {
    this.#recvUnacked += bytes;
    if (this.#recvUnacked >= this.#connectionWindow >> 1) {
      this.#writer.frame(
        FrameType.WINDOW_UPDATE,
        0,
        0,
        encodeUint32(this.#recvUnacked),
      );
      this.#recvWindow += this.#recvUnacked;
      this.#recvUnacked = 0;
    }
    if (!stream || stream.remoteClosed || stream.closed) return;
    const unacked = (this.#unacked.get(stream) ?? 0) + bytes;
    if (unacked < this.#streamWindow >> 1) {
      this.#unacked.set(stream, unacked);
      return;
    }
    this.#unacked.delete(stream);
    this.#writer.frame(
      FrameType.WINDOW_UPDATE,
      0,
      stream.id,
      encodeUint32(unacked),
    );
    stream.recvWindow += unacked;
  }

  #sendHeaders(id: number, fields: HeaderField[], endStream: boolean) {
    this.#calm.earn();
    const block = this.#hpackOut.encode(fields);
    const max = this.#peerMaxFrameSize;
    const end = endStream ? Flag.END_STREAM : 0;
    if (block.length <= max) {
      this.#writer.frame(FrameType.HEADERS, end | Flag.END_HEADERS, id, block);
      return;
    }
    for (let start = 0; start < block.length; start += max) {
      const stop = Math.min(start + max, block.length);
      const type = start === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (start === 0 ? end : 0) |
        (stop === block.length ? Flag.END_HEADERS : 0);
      this.#writer.frameOf(type, flags, id, block, start, stop);
    }
  }

  #sendReset(id: number, code: number) {
    this.#writer.frame(FrameType.RST_STREAM, 0, id, encodeUint32(code));
    this.#remember(id);
  }

  /** Remembers that stream `id` was reset from here: what follows is ignored. */
  #remember(id: number) {
    this.#resets.add(id);
    if (this.#resets.size > MAX_REMEMBERED_RESETS) {
      this.#resets.delete(this.#resets.values().next().value!);
    }
  }

  #resetStream(id: number, code: number) {
    const stream = this.#streams.get(id);
    if (stream) stream.reset(code);
    else this.#sendReset(id, code);
  }

  #makeHost(): StreamHost {
    // deno-lint-ignore no-this-alias
    const connection = this;
    return {
      writer: this.#writer,
      get sendWindow() {
        return connection.#sendWindow;
      },
      set sendWindow(value: number) {
        // Set as each DATA frame leaves: the server made progress.
        connection.#sendWindow = value;
        connection.#calm.earn();
      },
      get peerMaxFrameSize() {
        return connection.#peerMaxFrameSize;
      },
      sendHeaders: (id, fields, endStream) =>
        this.#sendHeaders(id, fields, endStream),
      waiting: (stream) => this.#waiting.add(stream),
      consumed: (stream, bytes) => this.#consumed(stream, bytes),
      sendReset: (stream, code) => this.#sendReset(stream.id, code),
      closed: (stream) => {
        this.#streams.delete(stream.id);
        this.#waiting.delete(stream);
        this.#unacked.delete(stream);
        this.#queued.delete(stream);
        if (stream.busy) this.#busy.add(stream);
        else this.#startQueued();
        if ((this.#peerGoaway || this.#drained) && this.#streams.size === 0) {
          this.#hangUp();
        }
      },
      settled: (stream) => {
        this.#busy.delete(stream);
        this.#startQueued();
      },
    };
  }

  /** Sends GOAWAY with `code`, abandons every stream and ends the socket. */
  #fail(code: number, message: string) {
    if (this.#closing) return;
    this.#writer.frame(
      FrameType.GOAWAY,
      0,
      0,
      encodeGoaway(this.#highestId, code, message),
    );
    this.#abortAll(code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code);
    this.#hangUp();
  }

  /**
   * Writes what is pending and closes the socket (once the last bytes are
   * out, or after a while when the client does not read them).
   */
  #hangUp() {
    if (this.#closing) return;
    this.#closing = true;
    this.#clearSettingsTimer();
    // Once the last bytes are out, nothing more is read either.
    this.#endSocket().then(() => this.#destroy());
  }

  /**
   * Resolves once what is pending is written, or the client took too long
   * to read it.
   */
  async #endSocket(): Promise<void> {
    this.#writer.flush();
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = this.#clock.setTimeout(resolve, HANG_UP_TIMEOUT_MS);
    await Promise.race([this.#writer.drained(), promise]);
    this.#clock.clearTimeout(timer);
  }

  /** Closes the socket (its read ends: see `#readLoop`). */
  #destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#writer.close();
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  #clearSettingsTimer() {
    if (this.#settingsTimer === undefined) return;
    this.#clock.clearTimeout(this.#settingsTimer);
    this.#settingsTimer = undefined;
  }

  #abortAll(code: number) {
    for (const stream of [...this.#streams.values()]) stream.abort(code);
  }

  /** The socket is closed: every stream is lost. */
  #lost() {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#clearSettingsTimer();
    this.#abortAll(ErrorCode.CANCEL);
    this.#options.onClose?.();
  }
}

/** True when `stream` comes from grpc-go (which takes GOAWAY well). */
function isGoClient(stream: H2Stream): boolean {
  return stream.header("user-agent")?.includes("grpc-go/") ?? false;
}

function protocolError(message: string): ConnectionError {
  return new ConnectionError(ErrorCode.PROTOCOL_ERROR, message);
}

/**
 * Why a request's header list is malformed (RFC 9113 §8.3.1), or
 * undefined when it is not.
 */
function checkRequest(fields: readonly HeaderField[]): string | undefined {
  let method = false;
  let path = false;
  let scheme = false;
  let regular = false;
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) !== 0x3a) {
      regular = true;
      if (name === "connection") return "a connection header";
      continue;
    }
    if (regular) return `${name} after a regular header`;
    if (name === ":method") method = true;
    else if (name === ":path") path = value !== "";
    else if (name === ":scheme") scheme = true;
    else if (name !== ":authority") return `pseudo-header ${name}`;
  }
  if (!method || !path || !scheme) return "a pseudo-header missing";
  return undefined;
}
