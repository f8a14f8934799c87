/**
 * A ttrpc client: unary calls multiplexed over one unix-socket connection.
 *
 * Stream ids are odd and increase by 2. A response with a non-OK status
 * rejects the call with a {@linkcode BerthError} of that code and message.
 * When the connection ends, every pending call is rejected with
 * `Unavailable`.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { BerthError, Code } from "../types/errors.ts";
import { Channel, type Frame, MessageType } from "./channel.ts";
import { Deadlines, type Expiring } from "./_deadlines.ts";
import { statusToError } from "./status.ts";
import { decodeResponse, encodeRequest, type TtrpcMetadata } from "./wire.ts";

/** Per-call options. */
export interface CallOptions {
  /** Deadline in milliseconds, sent to the server and enforced locally. */
  timeoutMs?: number;
  /** Call metadata; a string is one value. */
  metadata?: Record<string, string | string[]>;
  /** Aborts the call locally with `Canceled`. */
  signal?: AbortSignal;
}

/** What a {@linkcode PendingCall} needs to end itself. */
interface CallTable {
  /** Forgets the call: it has settled. */
  settled(call: PendingCall): void;
}

/**
 * A call waiting for its reply, settled once: by the reply, its deadline,
 * its caller's signal or the connection's end.
 */
class PendingCall implements Expiring {
  readonly streamId: number;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  readonly #what: string;
  readonly #resolve: (data: Uint8Array) => void;
  readonly #reject: (err: unknown) => void;
  readonly #table: CallTable;
  #settled = false;

  constructor(
    streamId: number,
    what: string,
    options: CallOptions,
    promise: PromiseWithResolvers<Uint8Array>,
    table: CallTable,
  ) {
    this.streamId = streamId;
    this.#what = what;
    const timeoutMs = options.timeoutMs ?? 0;
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    this.signal = options.signal;
    this.#resolve = promise.resolve;
    this.#reject = promise.reject;
    this.#table = table;
  }

  resolve(data: Uint8Array): void {
    if (this.#end()) this.#resolve(data);
  }

  reject(err: unknown): void {
    if (this.#end()) this.#reject(err);
  }

  expire(): void {
    this.reject(new BerthError(Code.DeadlineExceeded, this.#what));
  }

  /** Listens to the caller's signal. */
  cancel = (): void => {
    this.reject(new BerthError(Code.Canceled, this.#what));
  };

  /** True the first time: the call settles now. */
  #end(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#table.settled(this);
    return true;
  }
}

/** A ttrpc client connection. */
export class TtrpcClient {
  readonly #channel: Channel;
  readonly #pending = new Map<number, PendingCall>();
  /** The calls' deadlines, on one timer (see `_deadlines.ts`). */
  readonly #deadlines = new Deadlines();
  readonly #table: CallTable = {
    settled: (call) => {
      this.#pending.delete(call.streamId);
      this.#deadlines.delete(call);
      call.signal?.removeEventListener("abort", call.cancel);
    },
  };
  #nextStreamId = 1;
  #closed: BerthError | undefined;
  readonly #done: Promise<void>;
  readonly #ended = Promise.withResolvers<BerthError>();

  /** Wraps an open connection; prefer {@linkcode TtrpcClient.connect}. */
  constructor(conn: Deno.Conn) {
    this.#channel = new Channel(conn);
    this.#done = this.#readLoop();
  }

  /** Connects to the ttrpc server listening on unix socket `socketPath`. */
  static async connect(socketPath: string): Promise<TtrpcClient> {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ transport: "unix", path: socketPath });
    } catch (err) {
      throw new BerthError(
        Code.Unavailable,
        `ttrpc: connect ${socketPath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new TtrpcClient(conn);
  }

  /**
   * Calls `service`/`method` (e.g. `containerd.task.v2.Task`, `State`) with
   * `request`, and decodes the reply as `responseSchema`.
   */
  async call<I extends DescMessage, O extends DescMessage>(
    service: string,
    method: string,
    requestSchema: I,
    request: MessageInitShape<I>,
    responseSchema: O,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    const payload = toBinary(requestSchema, create(requestSchema, request));
    const data = await this.callRaw(service, method, payload, options);
    return fromBinary(responseSchema, data);
  }

  /** Like {@linkcode TtrpcClient.call} with already-encoded payloads. */
  callRaw(
    service: string,
    method: string,
    payload: Uint8Array,
    options: CallOptions = {},
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (options.signal?.aborted) {
      return Promise.reject(new BerthError(Code.Canceled, "ttrpc: call"));
    }
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    const metadata: TtrpcMetadata = {};
    for (const [k, v] of Object.entries(options.metadata ?? {})) {
      metadata[k] = typeof v === "string" ? [v] : v;
    }
    const timeoutMs = options.timeoutMs ?? 0;
    const frame = encodeRequest({
      service,
      method,
      payload,
      timeoutNano: BigInt(Math.max(0, Math.round(timeoutMs * 1e6))),
      metadata,
    });
    const promise = Promise.withResolvers<Uint8Array>();
    const call = new PendingCall(
      streamId,
      `ttrpc: ${service}/${method}`,
      options,
      promise,
      this.#table,
    );
    this.#pending.set(streamId, call);
    if (call.deadline < Infinity) this.#deadlines.add(call);
    call.signal?.addEventListener("abort", call.cancel);
    this.#channel.send(streamId, MessageType.Request, frame).catch(
      (err) => call.reject(err),
    );
    return promise.promise;
  }

  /**
   * Resolves, with the reason, once the connection has ended: closed here,
   * or by the server (the peer process died).
   */
  get ended(): Promise<BerthError> {
    return this.#ended.promise;
  }

  /** Closes the connection; pending calls fail with `Unavailable`. */
  async close(): Promise<void> {
    this.#shutdown(new BerthError(Code.Unavailable, "ttrpc: client closed"));
    await this.#done;
  }

  #shutdown(err: BerthError): void {
    this.#closed ??= err;
    this.#ended.resolve(this.#closed);
    this.#channel.close();
    for (const p of [...this.#pending.values()]) p.reject(this.#closed);
    this.#deadlines.clear();
  }

  async #readLoop(): Promise<void> {
    let frame: Frame | null;
    try {
      while ((frame = await this.#channel.recv()) !== null) {
        this.#dispatch(frame);
      }
      this.#shutdown(
        new BerthError(Code.Unavailable, "ttrpc: connection closed"),
      );
    } catch (err) {
      this.#shutdown(
        err instanceof BerthError ? err : new BerthError(
          Code.Unavailable,
          `ttrpc: connection closed: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    }
  }

  #dispatch(frame: Frame): void {
    const pending = this.#pending.get(frame.header.streamId);
    if (!pending) return; // late reply to a timed-out or canceled call
    if (frame.error) return pending.reject(frame.error);
    if (frame.header.type !== MessageType.Response) return;
    let res;
    try {
      res = decodeResponse(frame.data);
    } catch (err) {
      return pending.reject(
        new BerthError(
          Code.Internal,
          `ttrpc: bad response: ${(err as Error).message}`,
        ),
      );
    }
    if (res.status && res.status.code !== 0) {
      return pending.reject(statusToError(res.status));
    }
    pending.resolve(res.payload);
  }
}
