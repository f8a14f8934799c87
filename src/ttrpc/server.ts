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
import { errorToStatus } from "./status.ts";
import {
  decodeRequest,
  encodeResponse,
  type TtrpcMetadata,
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

/** A ttrpc server; register services, then {@linkcode TtrpcServer.listen}. */
export class TtrpcServer {
  readonly #services = new Map<string, Map<string, RawHandler>>();
  readonly #channels = new Set<Channel>();
  readonly #aborts = new Set<AbortController>();
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
    for (const ch of this.#channels) ch.close();
    for (const a of this.#aborts) a.abort();
    await this.#accepting;
    await Promise.allSettled([...this.#loops]);
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) void this.serveConn(conn);
    } catch {
      // listener closed
    }
  }

  async #connLoop(channel: Channel): Promise<void> {
    const inflight = new Set<Promise<void>>();
    const connAbort = new AbortController();
    try {
      let frame: Frame | null;
      while ((frame = await channel.recv()) !== null) {
        const p = this.#handle(channel, frame, connAbort.signal);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      }
    } catch {
      // connection broken
    } finally {
      connAbort.abort();
      channel.close();
      await Promise.allSettled([...inflight]);
    }
  }

  async #handle(
    channel: Channel,
    frame: Frame,
    connSignal: AbortSignal,
  ): Promise<void> {
    const id = frame.header.streamId;
    const reply = (status: TtrpcStatus | undefined, payload?: Uint8Array) =>
      channel.send(
        id,
        MessageType.Response,
        encodeResponse({ status, payload: payload ?? new Uint8Array() }),
      ).catch(async (err) => {
        // an oversized reply becomes a status instead
        if (!BerthError.is(err, Code.ResourceExhausted)) return;
        await channel.send(
          id,
          MessageType.Response,
          encodeResponse({
            status: errorToStatus(err),
            payload: new Uint8Array(),
          }),
        ).catch(() => {});
      });
    if (frame.error) return reply(errorToStatus(frame.error));
    if (frame.header.type !== MessageType.Request) return; // forward compat
    if (id % 2 !== 1) {
      return reply({
        code: Code.InvalidArgument,
        message: "ttrpc: stream id must be odd for client-initiated streams",
      });
    }
    let req;
    try {
      req = decodeRequest(frame.data);
    } catch (err) {
      return reply({
        code: Code.InvalidArgument,
        message: `ttrpc: unmarshal request: ${(err as Error).message}`,
      });
    }
    const methods = this.#services.get(req.service);
    if (!methods) {
      return reply({
        code: Code.Unimplemented,
        message: `service ${req.service}`,
      });
    }
    const handler = methods.get(req.method);
    if (!handler) {
      return reply({
        code: Code.Unimplemented,
        message: `method ${req.method}`,
      });
    }
    const abort = new AbortController();
    this.#aborts.add(abort);
    const onConnAbort = () => abort.abort();
    connSignal.addEventListener("abort", onConnAbort);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (req.timeoutNano > 0n) {
      timer = setTimeout(
        () => abort.abort(new BerthError(Code.DeadlineExceeded, "")),
        Number(req.timeoutNano / 1_000_000n),
      );
    }
    // A handler that ignores its signal must not hold up the connection's
    // end or the server's close: an abort answers for it.
    const aborted = new Promise<never>((_, reject) => {
      const fail = () =>
        reject(
          abort.signal.reason instanceof BerthError
            ? abort.signal.reason
            : new BerthError(Code.Canceled, `ttrpc: ${req.method}`),
        );
      if (abort.signal.aborted) fail();
      else abort.signal.addEventListener("abort", fail, { once: true });
    });
    try {
      const out = await Promise.race([
        handler(req.payload, {
          service: req.service,
          method: req.method,
          metadata: req.metadata,
          signal: abort.signal,
        }),
        aborted,
      ]);
      await reply(undefined, out);
    } catch (err) {
      await reply(errorToStatus(err));
    } finally {
      clearTimeout(timer);
      connSignal.removeEventListener("abort", onConnAbort);
      this.#aborts.delete(abort);
    }
  }
}
