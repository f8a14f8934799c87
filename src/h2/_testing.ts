/**
 * Test peers for the HTTP/2 server: a server on a temporary UNIX socket,
 * Deno's `node:http2` client (nghttp2, a strict implementation) connected
 * to it, and a raw peer that writes frames by hand for protocol errors.
 *
 * @module
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { join } from "node:path";
import { ErrorCode } from "./errors.ts";
import {
  CLIENT_PREFACE,
  decodeGoaway,
  encodeFrame,
  encodeSettings,
  Flag,
  type Frame,
  FrameDecoder,
  FrameType,
  type Goaway,
  MAX_MAX_FRAME_SIZE,
} from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import type { H2Connection } from "./connection.ts";
import { H2Server, type ServerOptions } from "./server.ts";
import type { H2Stream } from "./stream.ts";
import type { Clock } from "./_limits.ts";

/** A server listening on a temporary socket. */
export interface TestServer extends AsyncDisposable {
  /** The socket path. */
  path: string;
  /** The server. */
  server: H2Server;
  /** The length of every socket write the server made, in order. */
  writes: number[];
  /** The server's side of each connection, in the order accepted. */
  connections: H2Connection[];
}

/** Serves `onStream` (and `options`) on a temporary UNIX socket. */
export async function serve(
  onStream: (stream: H2Stream) => void,
  options: Partial<ServerOptions> = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "berth-h2-" });
  const path = join(dir, "h2.sock");
  const server = new H2Server({ ...options, onStream });
  const connections: H2Connection[] = [];
  const writes: number[] = [];
  const listener = Deno.listen({ transport: "unix", path });
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.push(server.serve({
        read: (buffer) => conn.read(buffer),
        write: (bytes) => {
          writes.push(bytes.length);
          return conn.write(bytes);
        },
        close: () => conn.close(),
      }));
    }
  })();
  return {
    path,
    server,
    writes,
    connections,
    async [Symbol.asyncDispose]() {
      server.close();
      listener.close();
      await accepting.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A `node:http2` client session on `path`, once the server's SETTINGS came. */
export function connect(
  path: string,
  options: http2.ClientSessionOptions = {},
): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect("http://localhost", {
      ...options,
      createConnection: () => net.connect(path),
    });
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      session.on("error", () => {});
      resolve(session);
    });
  });
}

/** A POST request's headers. */
export function post(path = "/test"): http2.OutgoingHttpHeaders {
  return { ":method": "POST", ":path": path, "content-type": "text/plain" };
}

/** Reads a client stream to its end: headers, body, trailers, reset code. */
export function response(stream: http2.ClientHttp2Stream): Promise<{
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Uint8Array;
  rstCode: number;
}> {
  return new Promise((resolve) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Uint8Array[] = [];
    stream.on("response", (h) => headers = h);
    stream.on("trailers", (t) => trailers = t);
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.once("close", () => {
      const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        body.set(chunk, offset);
        offset += chunk.length;
      }
      resolve({ headers, trailers, body, rstCode: stream.rstCode ?? 0 });
    });
  });
}

/** A peer writing frames by hand and reading the server's frames. */
export class RawPeer {
  /** The connection. */
  readonly socket: net.Socket;
  /** Every frame the server sent, in order. */
  readonly frames: Frame[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(MAX_MAX_FRAME_SIZE);
    socket.on("data", (chunk: Uint8Array) => {
      decoder.push(chunk, (frame) => {
        this.frames.push({ ...frame, payload: frame.payload.slice() });
        return true;
      });
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  /** Connects to `path`; with `preface`, sends the preface and SETTINGS. */
  static async connect(path: string, preface = true): Promise<RawPeer> {
    const socket = net.connect(path);
    await new Promise((resolve) => socket.once("connect", resolve));
    const peer = new RawPeer(socket);
    if (preface) {
      peer.send(CLIENT_PREFACE, encodeFrame(FrameType.SETTINGS, 0, 0));
    }
    return peer;
  }

  /** Writes `chunks` as they are. */
  send(...chunks: Uint8Array[]): void {
    for (const chunk of chunks) this.socket.write(chunk);
  }

  /** Writes one frame. */
  frame(
    type: number,
    flags: number,
    streamId: number,
    payload?: Uint8Array,
  ): void {
    this.send(encodeFrame(type, flags, streamId, payload));
  }

  /**
   * The first frame from the server that `match` accepts; undefined if
   * the connection ends without one.
   */
  async next(match: (frame: Frame) => boolean): Promise<Frame | undefined> {
    let seen = 0;
    while (true) {
      for (; seen < this.frames.length; seen++) {
        if (match(this.frames[seen])) return this.frames[seen];
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The server's GOAWAY, once the connection has ended. */
  async goaway(): Promise<Goaway | undefined> {
    const frame = await this.next((f) => f.type === FrameType.GOAWAY);
    await this.closed();
    return frame && decodeGoaway(frame.payload);
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    while (!this.#ended) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A request's header list as a client encodes it. */
export function request(path: string): HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
  ];
}

/** Resolves once the server answered a PING: it read every frame before. */
export async function roundTrip(peer: RawPeer): Promise<void> {
  const payload = crypto.getRandomValues(new Uint8Array(8));
  peer.frame(FrameType.PING, 0, 0, payload);
  await peer.next((f) =>
    f.type === FrameType.PING && f.flags === Flag.ACK &&
    f.payload.every((b, i) => b === payload[i])
  );
}

/** SETTINGS from a raw peer: `[parameter, value]` pairs. */
export function settingsFrame(
  settings: readonly (readonly [number, number])[],
): Uint8Array {
  return encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettings(settings));
}

/** The names of the error codes, for messages. */
export function codeName(code: number | undefined): string {
  const entry = Object.entries(ErrorCode).find(([, value]) => value === code);
  return entry?.[0] ?? String(code);
}

/** A clock that moves only when told: timers run in `advance`. */
export class ManualClock implements Clock {
  #now = 0;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  /** The time, in milliseconds since the clock was made. */
  now(): number {
    return this.#now;
  }

  /** Runs `fn` once `advance` has moved `ms` past now. */
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as number);
  }

  /** Timers set and not yet run or cleared. */
  get timers(): number {
    return this.#timers.size;
  }

  /** Moves the time on by `ms`, running the timers due. */
  advance(ms: number): void {
    this.#now += ms;
    for (const [id, timer] of [...this.#timers]) {
      if (timer.at > this.#now || !this.#timers.has(id)) continue;
      this.#timers.delete(id);
      timer.fn();
    }
  }
}
