/**
 * A lean gRPC server on berth's HTTP/2 streams (`src/h2/`) for the
 * services' connect-es implementations (`ServiceImpl`).
 *
 * connect-node's adapter serves every protocol through node's compatibility
 * request/response objects, web `Headers`, an `AbortController` per call and
 * several async-iterable pipes: measured, that is more than half of a unary
 * call's time on this socket. gRPC over HTTP/2 is all that `ctr` and the Go
 * client speak, so those calls take this direct path: the request frames are
 * read from the stream as they come (a frame announcing more than the
 * receive limit is refused before a byte of it is kept), the message is
 * decoded, the implementation called, and its answer framed onto the
 * stream, with backpressure for server streams and the status in trailers.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  isMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import { Buffer } from "node:buffer";
import type { H2Stream, HeaderField } from "../h2/mod.ts";
import { FrameBuffer, frameMessage, PREFIX } from "./_message_frame.ts";

/** What {@linkcode GrpcServer} needs besides its services. */
export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes. */
  maxRecvMessageSize: number;
  /** Largest response message sent, in bytes. */
  maxSendMessageSize: number;
  /**
   * Turns what a handler threw into the status the client sees (and logs
   * what deserves it).
   */
  toError(err: unknown, method: DescMethod): ConnectError;
  /** Called when a call ends, with its method and milliseconds taken. */
  onCallEnd?(method: DescMethod, ms: number): void;
}

type AnyImpl = (input: unknown, ctx: HandlerContext) => unknown;

interface Route {
  method: DescMethod;
  service: DescService;
  impl: AnyImpl | undefined;
}

/** The request headers as the part of `Headers` the services read. */
class RequestHeaders {
  #stream: H2Stream;
  constructor(stream: H2Stream) {
    this.#stream = stream;
  }
  get(name: string): string | null {
    return this.#stream.header(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.#stream.header(name.toLowerCase()) !== undefined;
  }
}

/**
 * A call's context. The services read only its request headers and its
 * signal; the signal is made on first use, since most calls never ask.
 */
class CallContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestHeader: Headers;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  #controller: AbortController | undefined;
  #url: string;

  constructor(route: Route, stream: H2Stream, url: string) {
    this.method = route.method;
    this.service = route.service;
    // Only get() and has() are read; a full Headers per call costs more.
    this.requestHeader = new RequestHeaders(stream) as unknown as Headers;
    this.#url = url;
  }
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }
  get url(): string {
    return this.#url;
  }
  get responseHeader(): Headers {
    return new Headers();
  }
  get responseTrailer(): Headers {
    return new Headers();
  }
  get values(): never {
    throw new ConnectError("context values are not supported", Code.Internal);
  }
  timeoutMs(): number | undefined {
    return undefined;
  }
  /** Aborts the signal, if anyone asked for it. */
  abort(reason: ConnectError) {
    this.#controller?.abort(reason);
  }
}

/** Where every call's answers are framed (one at a time: calls run on one thread). */
const frames = new FrameBuffer();

/** gRPC's percent-encoding of `grpc-message`. */
function encodeMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message)
    ? message
    : encodeURIComponent(message);
}

/** A gRPC response's headers. */
const RESPONSE_HEADERS: HeaderField[] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];
const OK_TRAILERS: HeaderField[] = [["grpc-status", "0"]];

function statusTrailers(err: ConnectError | undefined): HeaderField[] {
  if (!err) return OK_TRAILERS;
  return [
    ["grpc-status", String(err.code)],
    ["grpc-message", encodeMessage(err.rawMessage)],
  ];
}

/**
 * Splits the request stream into gRPC messages, refusing any frame whose
 * announced length passes the limit before its bytes are kept.
 */
class FrameReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds `chunk`; returns the messages now complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const messages: Uint8Array[] = [];
    while (this.#buffered >= PREFIX) {
      const head = this.#peek(PREFIX);
      const length =
        ((head[1] << 24) | (head[2] << 16) | (head[3] << 8) | head[4]) >>> 0;
      if (length > this.#limit) {
        throw new ConnectError(
          `grpc: received message larger than max (${length} vs. ${this.#limit})`,
          Code.ResourceExhausted,
        );
      }
      if (head[0] & 1) {
        throw new ConnectError(
          "grpc: compressed messages are not supported (grpc-encoding identity only)",
          Code.Unimplemented,
        );
      }
      if (this.#buffered < PREFIX + length) break;
      messages.push(this.#take(PREFIX + length).subarray(PREFIX));
    }
    return messages;
  }

  /** True when a frame was begun and not finished. */
  get partial(): boolean {
    return this.#buffered > 0;
  }

  #peek(n: number): Uint8Array {
    if (this.#chunks[0].length < n) {
      this.#chunks = [Buffer.concat(this.#chunks)];
    }
    return this.#chunks[0];
  }

  #take(n: number): Uint8Array {
    const first = this.#peek(n);
    const taken = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return taken;
  }
}

/**
 * The request messages of a client or bidi stream as an async iterable:
 * the HTTP/2 stream is paused while a decoded message waits unread, so
 * flow control holds the client back instead of memory growing.
 */
class RequestQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  #stream: H2Stream;

  constructor(stream: H2Stream) {
    this.#stream = stream;
  }

  push(item: T) {
    this.#items.push(item);
    this.#stream.pause();
    this.#signal();
  }

  end(error?: unknown) {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#signal();
  }

  #signal() {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#items.length) {
        const item = this.#items.shift()!;
        if (!this.#items.length && !this.#done) this.#stream.resume();
        yield item;
        continue;
      }
      if (this.#done) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}

/** The gRPC services of the daemon, answering HTTP/2 streams. */
export class GrpcServer {
  #routes = new Map<string, Route>();
  #options: GrpcServerOptions;

  /** A server with no services yet. */
  constructor(options: GrpcServerOptions) {
    this.#options = options;
  }

  /** Serves `impl` for `service`; methods it lacks answer Unimplemented. */
  register<S extends DescService>(
    service: S,
    impl: Partial<ServiceImpl<S>>,
  ): void {
    for (const method of service.methods) {
      const fn = (impl as Record<string, AnyImpl | undefined>)[
        method.localName
      ];
      this.#routes.set(`/${service.typeName}/${method.name}`, {
        method,
        service,
        impl: fn?.bind(impl),
      });
    }
  }

  /** True when `stream` asks for gRPC (any other protocol goes elsewhere). */
  static accepts(stream: H2Stream): boolean {
    const type = stream.header("content-type");
    return type === "application/grpc" ||
      (type?.startsWith("application/grpc+proto") ?? false) ||
      (type?.startsWith("application/grpc;") ?? false);
  }

  /** Answers one gRPC call on `stream`. */
  handle(stream: H2Stream) {
    const path = stream.header(":path") ?? "";
    const route = this.#routes.get(path);
    if (!route?.impl) {
      stream.respond([
        ...RESPONSE_HEADERS,
        ...statusTrailers(
          new ConnectError(`unknown method ${path}`, Code.Unimplemented),
        ),
      ], true);
      return;
    }
    new Call(stream, path, route, this.#options).run();
  }
}

/** One call in flight. */
class Call {
  #stream: H2Stream;
  #route: Route;
  #options: GrpcServerOptions;
  #ctx: CallContext;
  #reader: FrameReader;
  #responded = false;
  #finished = false;
  #started = performance.now();

  constructor(
    stream: H2Stream,
    path: string,
    route: Route,
    options: GrpcServerOptions,
  ) {
    this.#stream = stream;
    this.#route = route;
    this.#options = options;
    this.#ctx = new CallContext(route, stream, path);
    this.#reader = new FrameReader(options.maxRecvMessageSize);
  }

  run() {
    const stream = this.#stream;
    const kind = this.#route.method.methodKind;
    const queue = kind === "unary" || kind === "server_streaming"
      ? undefined
      : new RequestQueue<unknown>(stream);
    stream.onabort = () => {
      if (this.#finished) return;
      this.#finished = true;
      const cancelled = new ConnectError(
        "the client cancelled the call",
        Code.Canceled,
      );
      this.#ctx.abort(cancelled);
      // A handler waiting for the next request message ends too (and lets
      // go of what it holds, such as an ingest's lock).
      queue?.end(cancelled);
    };
    if (!queue) {
      this.#readOne();
      return;
    }
    stream.ondata = (chunk) => {
      try {
        for (const bytes of this.#reader.push(chunk)) {
          queue.push(fromBinary(this.#route.method.input, bytes));
        }
      } catch (err) {
        queue.end(err);
        this.#end(err);
      }
    };
    stream.onend = () => {
      queue.end(
        this.#reader.partial
          ? new ConnectError("grpc: truncated message", Code.InvalidArgument)
          : undefined,
      );
    };
    stream.working(this.#invoke(queue));
  }

  /** Reads the single request message of a unary or server-streaming call. */
  #readOne() {
    const stream = this.#stream;
    let message: Uint8Array | undefined;
    let count = 0;
    stream.ondata = (chunk) => {
      try {
        for (const bytes of this.#reader.push(chunk)) {
          message = bytes;
          count++;
        }
      } catch (err) {
        stream.ondata = undefined;
        this.#end(err);
      }
    };
    stream.onend = () => {
      if (this.#finished) return;
      if (count !== 1 || this.#reader.partial) {
        this.#end(
          new ConnectError(
            `grpc: expected one request message, got ${count}`,
            Code.Unimplemented,
          ),
        );
        return;
      }
      let input;
      try {
        input = fromBinary(this.#route.method.input, message!);
      } catch (err) {
        this.#end(
          new ConnectError(
            `grpc: cannot decode the request: ${(err as Error).message}`,
            Code.InvalidArgument,
          ),
        );
        return;
      }
      // Counted against the client's concurrent calls until it ends, even
      // once the client reset the call (see H2Stream.working).
      stream.working(this.#invoke(input));
    };
  }

  async #invoke(input: unknown) {
    const { method, impl } = this.#route;
    try {
      const result = impl!(input, this.#ctx as unknown as HandlerContext);
      if (
        method.methodKind === "unary" ||
        method.methodKind === "client_streaming"
      ) {
        const message = await result;
        this.#write(this.#frame(message));
        this.#end();
      } else {
        for await (const message of result as AsyncIterable<unknown>) {
          if (this.#finished) break;
          if (!this.#write(this.#frame(message))) {
            await this.#stream.drained();
          }
        }
        this.#end();
      }
    } catch (err) {
      this.#end(err);
    }
  }

  /** The framed encoding of `message`, or ResourceExhausted past the limit. */
  #frame(message: unknown): Uint8Array {
    const schema = this.#route.method.output as DescMessage;
    const frame = frameMessage(
      schema,
      isMessage(message, schema)
        ? message
        : create(schema, message as MessageShape<DescMessage>),
      frames,
    );
    const size = frame.length - PREFIX;
    const limit = this.#options.maxSendMessageSize;
    if (size > limit) {
      throw new ConnectError(
        `grpc: trying to send message larger than max (${size} vs. ${limit})`,
        Code.ResourceExhausted,
      );
    }
    return frame;
  }

  /** Writes `frame`, sending the headers first; false when it should wait. */
  #write(frame: Uint8Array): boolean {
    const stream = this.#stream;
    if (this.#finished || stream.closed) return true;
    if (!this.#responded) {
      this.#responded = true;
      stream.respond(RESPONSE_HEADERS);
    }
    const more = stream.write(frame);
    // Not copied out yet (the windows are closed): the stream holds it.
    if (stream.queued > 0) frames.keep(frame);
    return more;
  }

  /**
   * Ends the call with OK, or with the status `err` maps to. A client
   * still sending (a refused oversized message, a failed write stream) is
   * told to stop once the status is out (RST_STREAM NO_ERROR).
   */
  #end(err?: unknown) {
    if (this.#finished) return;
    this.#finished = true;
    const stream = this.#stream;
    const { method } = this.#route;
    const status = err === undefined
      ? undefined
      : this.#options.toError(err, method);
    this.#options.onCallEnd?.(method, performance.now() - this.#started);
    if (stream.closed) return;
    const trailers = statusTrailers(status);
    if (!this.#responded) {
      this.#responded = true;
      stream.respond([...RESPONSE_HEADERS, ...trailers], true);
    } else {
      stream.end(trailers);
    }
  }
}
