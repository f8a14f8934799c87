/**
 * A lean gRPC transport straight on `node:http2`: each call is one HTTP/2
 * stream whose length-prefixed messages are encoded and parsed here, with
 * none of connect-es's generic protocol layer (interceptors, compression,
 * web-stream plumbing) in between. It costs a few times less client CPU a
 * call than `unixTransport` (connect-node), which is what a client making many
 * small calls (or a benchmark that must measure the daemon, not itself)
 * needs.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  type DescMethodStreaming,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import * as net from "node:net";

/** The most bytes one response message may have. */
const MAX_MESSAGE_BYTES = 64 << 20;

/** The HTTP/2 connection of a transport: dialled on first use, again when lost. */
class Connection {
  readonly #address: string;
  #session?: http2.ClientHttp2Session;
  #open = 0;

  constructor(address: string) {
    this.#address = address;
  }

  /**
   * A new stream; the connection keeps the process alive only while some
   * stream is open.
   */
  request(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    let session = this.#session;
    if (!session || session.closed || session.destroyed) {
      const address = this.#address;
      session = http2.connect("http://localhost", {
        createConnection: () => net.connect(address),
      });
      // A failed connection fails its streams, which report it.
      session.on("error", () => {});
      this.#session = session;
    }
    const stream = session.request(headers);
    if (this.#open++ === 0) session.ref();
    stream.once("close", () => {
      // Counted over every session: one lost with calls open is closed.
      if (--this.#open === 0 && !this.#session?.destroyed) {
        this.#session?.unref();
      }
    });
    return stream;
  }
}

/** `message` as a gRPC frame: a flags byte, its 32-bit length, the bytes. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits gRPC frames out of the bytes that arrive. */
class Deframer {
  #pending: Buffer = Buffer.alloc(0);

  /** The whole messages `chunk` completes. */
  push(chunk: Buffer): Uint8Array[] {
    let data = this.#pending.length
      ? Buffer.concat([this.#pending, chunk])
      : chunk;
    const messages: Uint8Array[] = [];
    while (data.length >= 5) {
      if (data[0] !== 0) {
        throw new ConnectError(
          "compressed response message, but no compression was offered",
          Code.Internal,
        );
      }
      const length = data.readUInt32BE(1);
      if (length > MAX_MESSAGE_BYTES) {
        throw new ConnectError(
          `response message of ${length} bytes exceeds the limit of ${MAX_MESSAGE_BYTES}`,
          Code.ResourceExhausted,
        );
      }
      if (data.length < 5 + length) break;
      messages.push(data.subarray(5, 5 + length));
      data = data.subarray(5 + length);
    }
    this.#pending = data;
    return messages;
  }

  /** Whether a partial frame is left. */
  get partial(): boolean {
    return this.#pending.length > 0;
  }
}

/** A `grpc-timeout` value: at most 8 digits, in milliseconds or seconds. */
function grpcTimeout(ms: number): string {
  const whole = Math.ceil(ms);
  return whole < 1e8
    ? `${whole}m`
    : `${Math.min(Math.ceil(whole / 1000), 99_999_999)}S`;
}

/** gRPC's code for a response whose HTTP status is not 200. */
function codeOfHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

/** HTTP/2 headers as fetch's `Headers` (pseudo-headers left out). */
function toHeaders(incoming: http2.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      headers.append(name, one);
    }
  }
  return headers;
}

/** The call's error, when its headers or trailers say it failed. */
function statusError(
  status: string | undefined,
  message: string | undefined,
  metadata: () => Headers,
): ConnectError | undefined {
  if (status === undefined || status === "0") return undefined;
  const code = Number(status);
  return new ConnectError(
    message === undefined ? "" : decodeURIComponent(message),
    code >= 1 && code <= 16 ? code : Code.Unknown,
    metadata(),
  );
}

/**
 * One call in flight: its stream, and the events that end it (response
 * headers, messages, trailers, close, abort, deadline) turned into
 * promises and an async iterator of messages.
 */
class Call {
  readonly stream: http2.ClientHttp2Stream;
  /**
   * The response headers as they came (made into `Headers` only when
   * asked for: most calls never look); rejects when the call fails before
   * them.
   */
  readonly header: Promise<http2.IncomingHttpHeaders>;
  /** The trailers as they came (a trailers-only response's headers). */
  #trailers: http2.IncomingHttpHeaders = {};
  #messages: Uint8Array[] = [];
  #deframer = new Deframer();
  #error?: ConnectError;
  #responded = false;
  #ended = false;
  #wake?: () => void;
  #cleanup: () => void;

  constructor(
    connection: Connection,
    path: string,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
  ) {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      "te": "trailers",
    };
    if (header instanceof Headers || Array.isArray(header)) {
      new Headers(header).forEach((value, name) => headers[name] = value);
    } else if (header) {
      // A plain record, what berth's Client passes: no Headers to build.
      for (const [name, value] of Object.entries(header)) {
        headers[name.toLowerCase()] = value;
      }
    }
    if (timeoutMs !== undefined && timeoutMs > 0) {
      headers["grpc-timeout"] = grpcTimeout(timeoutMs);
    }
    if (signal?.aborted) {
      throw new ConnectError(
        "the operation was aborted",
        Code.Canceled,
        undefined,
        undefined,
        signal.reason,
      );
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = connection.request(headers);
    } catch (err) {
      throw new ConnectError(
        `cannot call ${path}: ${(err as Error).message}`,
        Code.Unavailable,
        undefined,
        undefined,
        err,
      );
    }
    this.stream = stream;
    const cancel = (error: ConnectError) => {
      this.#fail(error);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const onAbort = () =>
      cancel(
        new ConnectError(
          "the operation was aborted",
          Code.Canceled,
          undefined,
          undefined,
          signal?.reason,
        ),
      );
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = timeoutMs !== undefined && timeoutMs > 0
      ? setTimeout(
        () =>
          cancel(
            new ConnectError(
              `the deadline of ${timeoutMs} ms passed`,
              Code.DeadlineExceeded,
            ),
          ),
        timeoutMs,
      )
      : undefined;
    this.#cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    };
    this.header = new Promise((resolve, reject) => {
      stream.once("response", (incoming) => {
        this.#responded = true;
        const metadata = () => toHeaders(incoming);
        // A trailers-only response: its headers are the trailers.
        if (incoming["grpc-status"] !== undefined) this.#trailers = incoming;
        const status = Number(incoming[":status"]);
        const failed = statusError(
          incoming["grpc-status"] as string | undefined,
          incoming["grpc-message"] as string | undefined,
          metadata,
        );
        if (failed) {
          this.#fail(failed);
        } else if (status !== 200) {
          this.#fail(
            new ConnectError(
              `HTTP status ${status} from ${path}`,
              codeOfHttpStatus(status),
              metadata(),
            ),
          );
        } else if (
          !String(incoming["content-type"]).startsWith("application/grpc")
        ) {
          this.#fail(
            new ConnectError(
              `${path}: not a gRPC response (content-type ${
                incoming["content-type"]
              })`,
              Code.Internal,
              metadata(),
            ),
          );
        }
        resolve(incoming);
      });
      stream.once("close", () => {
        if (!this.#error && !this.#responded) {
          this.#fail(
            new ConnectError(
              `${path}: the stream closed before a response (HTTP/2 code ${stream.rstCode})`,
              Code.Unavailable,
            ),
          );
        }
        reject(this.#error);
      });
    });
    // Settled by the close above when no response comes.
    this.header.catch(() => {});
    stream.on("data", (chunk: Buffer) => {
      try {
        this.#messages.push(...this.#deframer.push(chunk));
      } catch (err) {
        cancel(err as ConnectError);
      }
      this.#wake?.();
    });
    stream.on("trailers", (incoming) => this.#trailers = incoming);
    stream.on("error", (err: Error) =>
      this.#fail(
        new ConnectError(
          `${path}: ${err.message}`,
          Code.Unavailable,
          undefined,
          undefined,
          err,
        ),
      ));
    stream.once("close", () => {
      this.#cleanup();
      if (!this.#error) this.#finish(path, stream.rstCode);
      this.#ended = true;
      this.#wake?.();
    });
  }

  /** The trailers, as `Headers`. */
  get trailer(): Headers {
    return toHeaders(this.#trailers);
  }

  /** The status the trailers give, or an error for a stream cut short. */
  #finish(path: string, rstCode: number) {
    const status = this.#trailers["grpc-status"] as string | undefined;
    const failed = statusError(
      status,
      this.#trailers["grpc-message"] as string | undefined,
      () => this.trailer,
    );
    if (failed) {
      this.#fail(failed);
    } else if (status === undefined) {
      this.#fail(
        new ConnectError(
          `${path}: the response ended without a status (HTTP/2 code ${rstCode})`,
          rstCode === http2.constants.NGHTTP2_CANCEL
            ? Code.Canceled
            : Code.Internal,
        ),
      );
    } else if (this.#deframer.partial) {
      this.#fail(
        new ConnectError(`${path}: truncated response message`, Code.Internal),
      );
    }
  }

  #fail(error: ConnectError) {
    this.#error ??= error;
    this.#wake?.();
  }

  /**
   * All the response messages once the call has ended; throws its error.
   * (A unary call's way: no iterator in between.)
   */
  whole(): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (this.#error) reject(this.#error);
        else if (this.#ended) resolve(this.#messages);
        else return false;
        return true;
      };
      if (!settle()) this.#wake = () => void settle();
    });
  }

  /** The response messages as they come; throws the call's error. */
  async *messages(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.#messages.length) {
          yield this.#messages.shift()!;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
      }
    } finally {
      if (!this.stream.closed) {
        this.stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    }
  }

  /** Writes the request messages and ends the request side. */
  async send(messages: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const message of messages) {
        if (this.#error || this.stream.closed) return;
        if (!this.stream.write(frame(message))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              this.stream.off("drain", done);
              this.stream.off("close", done);
              resolve();
            };
            this.stream.on("drain", done);
            this.stream.on("close", done);
          });
        }
      }
      if (!this.stream.closed) this.stream.end();
    } catch (err) {
      this.#fail(
        err instanceof ConnectError ? err : new ConnectError(
          `request stream failed: ${(err as Error).message}`,
          Code.Canceled,
          undefined,
          undefined,
          err,
        ),
      );
      if (!this.stream.closed) {
        this.stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    }
  }
}

/** `input` as one encoded message. */
function encode<I extends DescMessage>(
  schema: I,
  input: MessageInitShape<I>,
): Uint8Array {
  return toBinary(schema, create(schema, input));
}

/** The `/package.Service/Method` path of `method`. */
function pathOf(method: { parent: { typeName: string }; name: string }) {
  return `/${method.parent.typeName}/${method.name}`;
}

/**
 * A gRPC transport over the UNIX socket at `address`, straight on
 * `node:http2` (see the module's note): the same wire as
 * `unixTransport`, with less client work a call. Interceptors and
 * compression are not offered. Nothing is dialled until the first call; the
 * connection keeps the process alive only while a call is open.
 *
 * @example
 * ```ts
 * import { CoreClient, h2Transport } from "@berth/berth/client";
 * const client = new CoreClient({ transport: h2Transport("/run/berth/berth.sock") });
 * console.log((await client.version()).version);
 * ```
 */
export function h2Transport(address: string): Transport {
  const connection = new Connection(address);
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      const path = pathOf(method);
      const call = new Call(connection, path, signal, timeoutMs, header);
      call.stream.end(frame(encode(method.input, input)));
      const incoming = await call.header;
      const messages = await call.whole();
      if (messages.length !== 1) {
        throw new ConnectError(
          `${path}: ${messages.length} response messages, not one`,
          messages.length ? Code.Unimplemented : Code.Internal,
        );
      }
      const message: MessageShape<O> = fromBinary(method.output, messages[0]);
      return {
        stream: false,
        service: method.parent,
        method,
        message,
        get header() {
          return toHeaders(incoming);
        },
        get trailer() {
          return call.trailer;
        },
      };
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
    ): Promise<StreamResponse<I, O>> {
      const call = new Call(
        connection,
        pathOf(method),
        signal,
        timeoutMs,
        header,
      );
      call.send((async function* () {
        for await (const one of input) yield encode(method.input, one);
      })());
      const incoming = await call.header;
      return {
        stream: true,
        service: method.parent,
        method,
        get header() {
          return toHeaders(incoming);
        },
        // Complete once the messages are read.
        get trailer() {
          return call.trailer;
        },
        message: (async function* () {
          for await (const bytes of call.messages()) {
            yield fromBinary(method.output, bytes);
          }
        })(),
      };
    },
  };
}
