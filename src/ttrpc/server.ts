/**
 * A ttrpc server on a unix socket.
 *
 * Services are registered either raw ({@linkcode TtrpcServer.register}:
 * method name → bytes handler) or typed from a generated service descriptor
 * ({@linkcode TtrpcServer.registerService}). Unknown services or methods get
 * `Unimplemented`; a handler's {@linkcode BerthError} becomes its code, any
 * other error `Unknown`. Requests on even stream ids get `InvalidArgument`,
 * oversized requests `ResourceExhausted`; the connection stays open.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { BerthError, Code } from "../types/errors.ts";
import { Channel, type Frame, MessageType } from "./channel.ts";
import { Deadlines, type Expiring } from "./_deadlines.ts";
import { errorToStatus } from "./status.ts";
import {
  decodeRequest,
  encodeResponse,
  type TtrpcMetadata,
  type TtrpcRequest,
  type TtrpcStatus,
} from "./wire.ts";

/** What a handler learns about its call. */
export interface TtrpcCallContext {
  /** Fully qualified service name. */
  service: string;
  /** Method name. */
  method: string;
  /** Metadata sent by the client. */
  metadata: TtrpcMetadata;
  /** Aborted at the client's deadline or when the connection/server closes. */
  signal: AbortSignal;
}

/** A raw handler: encoded request in, encoded response out. */
export type RawHandler = (
  payload: Uint8Array,
  ctx: TtrpcCallContext,
) => Promise<Uint8Array>;

/**
 * Typed handlers for a generated service (`GenService`), keyed by the
 * method's local name (`state`, `pids`, ...). Missing methods answer
 * `Unimplemented`.
 */
export type TtrpcServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]?: (
    request: MessageShape<S["method"][K]["input"]>,
    ctx: TtrpcCallContext,
  ) => Promise<MessageInitShape<S["method"][K]["output"]>>;
};

/** A response's payload when it has none. */
const NO_PAYLOAD = new Uint8Array();

/**
 * A call being handled, answered once: by its handler, or by its end (its
 * deadline, its connection or the server closing) if that comes first. Its
 * signal is made only for a handler that asks for it: most never do.
 */
class ServerCall implements TtrpcCallContext, Expiring {
  readonly service: string;
  readonly method: string;
  readonly metadata: TtrpcMetadata;
  readonly deadline: number;
  readonly #channel: Channel;
  readonly #streamId: number;
  readonly #calls: Set<ServerCall>;
  readonly #deadlines: Deadlines;
  #controller: AbortController | undefined;
  #ended: BerthError | undefined;
  #answered = false;

  constructor(
    channel: Channel,
    streamId: number,
    req: TtrpcRequest,
    calls: Set<ServerCall>,
    deadlines: Deadlines,
  ) {
    this.service = req.service;
    this.method = req.method;
    this.metadata = req.metadata;
    this.#channel = channel;
    this.#streamId = streamId;
    this.#calls = calls;
    this.#deadlines = deadlines;
    calls.add(this);
    this.deadline = req.timeoutNano > 0n
      ? performance.now() + Number(req.timeoutNano / 1_000_000n)
      : Infinity;
    if (this.deadline < Infinity) deadlines.add(this);
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#ended) this.#controller.abort(this.#ended);
    }
    return this.#controller.signal;
  }

  expire(): void {
    void this.end(new BerthError(Code.DeadlineExceeded, ""));
  }

  /**
   * Ends the call before its handler answered: the client is told `reason`
   * (or Canceled) at once, and the handler's signal aborts. A handler that
   * ignores it holds up nothing; its answer is dropped.
   */
  end(reason?: BerthError): Promise<void> {
    if (this.#answered) return Promise.resolve();
    const why = reason ??
      new BerthError(Code.Canceled, `ttrpc: ${this.method}`);
    this.#ended = why;
    const sent = this.answer(errorToStatus(why));
    this.#controller?.abort(why);
    return sent;
  }

  /** Sends the answer, unless one was sent. */
  answer(status: TtrpcStatus | undefined, payload?: Uint8Array): Promise<void> {
    if (this.#answered) return Promise.resolve();
    this.#answered = true;
    this.#calls.delete(this);
    this.#deadlines.delete(this);
    return reply(this.#channel, this.#streamId, status, payload);
  }
}

/**
 * Sends the response to `streamId`; an oversized one becomes a status
 * instead, and a connection that broke is left to its reader to notice.
 */
function reply(
  channel: Channel,
  streamId: number,
  status: TtrpcStatus | undefined,
  payload: Uint8Array = NO_PAYLOAD,
): Promise<void> {
  return channel.send(
    streamId,
    MessageType.Response,
    encodeResponse({ status, payload }),
  ).catch(async (err) => {
    if (!BerthError.is(err, Code.ResourceExhausted)) return;
    await channel.send(
      streamId,
      MessageType.Response,
      encodeResponse({ status: errorToStatus(err), payload: NO_PAYLOAD }),
    ).catch(() => {});
  });
}

/** A ttrpc server; register services, then {@linkcode TtrpcServer.listen}. */
export class TtrpcServer {
  readonly #services = new Map<string, Map<string, RawHandler>>();
  readonly #channels = new Set<Channel>();
  readonly #deadlines = new Deadlines();
  readonly #loops = new Set<Promise<void>>();
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> | undefined;
  /** Called after a connection has ended, with how many remain. */
  onDisconnect: ((open: number) => void) | undefined;

  /** Registers raw handlers for `service`, keyed by proto method name. */
  register(service: string, handlers: Record<string, RawHandler>): void {
    const methods = this.#services.get(service) ?? new Map();
    for (const [name, h] of Object.entries(handlers)) methods.set(name, h);
    this.#services.set(service, methods);
  }

  /** Registers typed handlers for a generated service descriptor. */
  registerService<S extends DescService>(
    service: S,
    impl: TtrpcServiceImpl<S>,
  ): void {
    const handlers: Record<string, RawHandler> = {};
    for (const m of service.methods) {
      const fn = (impl as Record<string, unknown>)[m.localName] as
        | ((req: unknown, ctx: TtrpcCallContext) => Promise<unknown>)
        | undefined;
      if (!fn || m.methodKind !== "unary") continue;
      const input: DescMessage = m.input;
      const output: DescMessage = m.output;
      handlers[m.name] = async (payload, ctx) => {
        let req;
        try {
          req = fromBinary(input, payload);
        } catch (err) {
          throw new BerthError(
            Code.InvalidArgument,
            `ttrpc: decode ${input.typeName}: ${(err as Error).message}`,
          );
        }
        const res = await fn.call(impl, req, ctx);
        return toBinary(
          output,
          create(output, res as MessageInitShape<DescMessage>),
        );
      };
    }
    this.register(service.typeName, handlers);
  }

  /**
   * Listens on unix socket `socketPath` (an existing file is replaced),
   * created with `mode` (default 0600: its owner only) from the start.
   */
  listen(socketPath: string, mode: number = 0o600): void {
    if (this.#listener) {
      throw new BerthError(Code.FailedPrecondition, "ttrpc: already listening");
    }
    try {
      Deno.removeSync(socketPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    // The umask makes the socket with its mode: no moment with a wider one.
    const umask = Deno.umask(0o777 & ~mode);
    try {
      this.#listener = Deno.listen({ transport: "unix", path: socketPath });
    } finally {
      Deno.umask(umask);
    }
    this.#accepting = this.#acceptLoop(this.#listener);
  }

  /** Serves one already-accepted connection until it closes. */
  serveConn(conn: Deno.Conn): Promise<void> {
    const channel = new Channel(conn);
    this.#channels.add(channel);
    const loop = this.#connLoop(channel).finally(() => {
      this.#channels.delete(channel);
      this.#loops.delete(loop);
      this.onDisconnect?.(this.#channels.size);
    });
    this.#loops.add(loop);
    return loop;
  }

  /**
   * Stops listening, closes every connection and aborts in-flight handlers;
   * clients' pending calls fail. Idempotent.
   */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    // Each connection's loop ends its calls as its channel closes.
    for (const ch of this.#channels) ch.close();
    await this.#accepting;
    await Promise.allSettled([...this.#loops]);
    this.#deadlines.clear();
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) void this.serveConn(conn);
    } catch {
      // listener closed
    }
  }

  async #connLoop(channel: Channel): Promise<void> {
    const calls = new Set<ServerCall>();
    try {
      let frame: Frame | null;
      while ((frame = await channel.recv()) !== null) {
        this.#handle(channel, frame, calls);
      }
    } catch {
      // connection broken
    } finally {
      channel.close();
      await Promise.allSettled([...calls].map((call) => call.end()));
    }
  }

  #handle(channel: Channel, frame: Frame, calls: Set<ServerCall>): void {
    const id = frame.header.streamId;
    if (frame.error) {
      void reply(channel, id, errorToStatus(frame.error));
      return;
    }
    if (frame.header.type !== MessageType.Request) return; // forward compat
    if (id % 2 !== 1) {
      void reply(channel, id, {
        code: Code.InvalidArgument,
        message: "ttrpc: stream id must be odd for client-initiated streams",
      });
      return;
    }
    let req;
    try {
      req = decodeRequest(frame.data);
    } catch (err) {
      void reply(channel, id, {
        code: Code.InvalidArgument,
        message: `ttrpc: unmarshal request: ${(err as Error).message}`,
      });
      return;
    }
    const methods = this.#services.get(req.service);
    if (!methods) {
      void reply(channel, id, {
        code: Code.Unimplemented,
        message: `service ${req.service}`,
      });
      return;
    }
    const handler = methods.get(req.method);
    if (!handler) {
      void reply(channel, id, {
        code: Code.Unimplemented,
        message: `method ${req.method}`,
      });
      return;
    }
    const call = new ServerCall(channel, id, req, calls, this.#deadlines);
    let answer;
    try {
      answer = handler(req.payload, call);
    } catch (err) {
      void call.answer(errorToStatus(err));
      return;
    }
    answer.then(
      (out) => call.answer(undefined, out),
      (err) => call.answer(errorToStatus(err)),
    );
  }
}
