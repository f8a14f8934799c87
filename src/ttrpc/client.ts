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

interface Pending {
  resolve(data: Uint8Array): void;
  reject(err: unknown): void;
}

/** A ttrpc client connection. */
export class TtrpcClient {
  readonly #channel: Channel;
  readonly #pending = new Map<number, Pending>();
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
    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () =>
        finish(new BerthError(Code.Canceled, `ttrpc: ${service}/${method}`));
      const finish = (err: unknown, data?: Uint8Array) => {
        if (!this.#pending.delete(streamId)) return;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(data!);
      };
      this.#pending.set(streamId, {
        resolve: (data) => finish(undefined, data),
        reject: (err) => finish(err),
      });
      if (timeoutMs > 0) {
        timer = setTimeout(
          () =>
            finish(
              new BerthError(
                Code.DeadlineExceeded,
                `ttrpc: ${service}/${method}`,
              ),
            ),
          timeoutMs,
        );
      }
      options.signal?.addEventListener("abort", onAbort);
      this.#channel.send(streamId, MessageType.Request, frame).catch(
        (err) => finish(err),
      );
    });
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
