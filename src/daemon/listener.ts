/**
 * One UNIX socket, two protocols: HTTP/2 (gRPC, for Go clients like ctr)
 * and HTTP/1.1 (the Connect protocol, for curl with JSON).
 *
 * `node:http2` cannot serve HTTP/1.1 on a cleartext socket, so connections
 * are accepted on a plain `net` server, the first bytes are peeked for the
 * HTTP/2 preface, and the socket is handed to the matching server.
 *
 * @module
 */
import * as fs from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { dropClientGoaways } from "./_goaway.ts";
import { WriteBatch } from "./_write_batch.ts";

/** An HTTP/1.1 request handler (connect-node's adapter is one). */
export type RequestHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
) => void;

/**
 * An HTTP/2 stream handler; `writes` gathers its connection's socket
 * writes (a call about to end may hold them back briefly).
 */
export type StreamHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  writes: WriteBatch,
) => void;

/** Options for {@linkcode listen}. */
export interface ListenOptions {
  /** Path of the UNIX socket; an existing socket file there is replaced. */
  path: string;
  /** Handles each HTTP/2 stream (gRPC). */
  streams: StreamHandler;
  /** Handles each HTTP/1.1 request (the Connect protocol, for curl). */
  requests: RequestHandler;
  /** Socket file mode. */
  mode?: number;
  /** Socket owner uid. */
  uid?: number;
  /** Socket owner gid. */
  gid?: number;
}

/** A listening socket. */
export interface Listener {
  /** The socket path. */
  readonly path: string;
  /** Stops accepting, ends open connections and removes the socket file. */
  close(): Promise<void>;
}

const PREFACE = "PRI * HTTP/2.0";

/**
 * Connections the kernel queues before the daemon accepts them (capped by
 * `net.core.somaxconn`). node's default, 511, refused a quarter of 1000
 * clients connecting at once with EAGAIN; containerd refuses none.
 */
const LISTEN_BACKLOG = 4096;

/** Bytes a client may send on one stream before the daemon reads them. */
const STREAM_WINDOW = 1 << 20;
/** Bytes a client may send on all its streams before the daemon reads them. */
const SESSION_WINDOW = 8 << 20;

/**
 * A connection's streams, closed from the daemon's side when the client
 * resets them. nghttp2 ends a connection with GOAWAY after 1000 streams
 * the client reset while they were open (then 33 a second) — its guard
 * against "rapid reset" floods, which Deno's `streamResetBurst` option
 * does not reach — and containerd's client resets each `ReadAt` call
 * once it has its bytes and each fetch it abandons: `ctr pull` of a large
 * index lost its connection. A reset the daemon makes is not counted.
 */
class ClientResets {
  #open = new Map<number, http2.ServerHttp2Stream>();
  #early = new Set<number>();
  #newest = 0;

  /** Registers a new stream; false when the client already reset it. */
  opened(stream: http2.ServerHttp2Stream): boolean {
    const id = stream.id!;
    if (this.#early.delete(id)) {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return false;
    }
    this.#newest = Math.max(this.#newest, id);
    this.#open.set(id, stream);
    stream.once("close", () => this.#open.delete(id));
    return true;
  }

  /** The client reset stream `id` (before nghttp2 has seen its bytes). */
  reset(id: number) {
    // The frame's bytes reach nghttp2 after this call: a stream opened in
    // the same chunk is not known yet.
    setImmediate(() => {
      const stream = this.#open.get(id);
      if (stream) stream.close(http2.constants.NGHTTP2_CANCEL);
      // Ids only grow: a newer one is a stream nghttp2 has yet to open,
      // an older one a stream already closed.
      else if (id > this.#newest && this.#early.size < MAX_EARLY_RESETS) {
        this.#early.add(id);
      }
    });
  }
}

/** What the listener keeps for each HTTP/2 connection. */
interface Connection {
  resets: ClientResets;
  writes: WriteBatch;
}

/** Resets remembered for streams not opened yet. */
const MAX_EARLY_RESETS = 1024;

/** Listens on a UNIX socket, serving HTTP/2 and HTTP/1.1 side by side. */
export async function listen(options: ListenOptions): Promise<Listener> {
  const h2 = http2.createServer({
    maxSessionMemory: 64,
    // Flow-control windows: HTTP/2's default, 64 KiB, lets a client send
    // one 64 KiB round trip at a time; an ingest of 1 MiB messages then
    // waits on window updates instead of the disk.
    settings: { initialWindowSize: STREAM_WINDOW },
  });
  const h1 = http.createServer(options.requests);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const connections = new WeakMap<http2.Http2Session, Connection>();
  let connecting: Connection | undefined;
  h2.on("stream", (stream, headers) => {
    const connection = connections.get(stream.session!);
    if (connection?.resets.opened(stream)) {
      options.streams(stream, headers, connection.writes);
    }
  });
  h2.on("session", (session: http2.Http2Session) => {
    if (connecting) connections.set(session, connecting);
    connecting = undefined;
    session.setLocalWindowSize(SESSION_WINDOW);
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let head: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const text = head.subarray(0, PREFACE.length).toString("latin1");
      if (head.length < PREFACE.length && PREFACE.startsWith(text)) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (text === PREFACE) {
        const resets = new ClientResets();
        dropClientGoaways(socket, (id) => resets.reset(id));
        connecting = { resets, writes: new WriteBatch(socket) };
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
      }
      socket.resume();
    };
    socket.on("data", onData);
  });

  await removeStaleSocket(options.path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: options.path, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await fs.chmod(options.path, options.mode ?? 0o660);
  await fs.chown(options.path, options.uid ?? 0, options.gid ?? 0);

  return {
    path: options.path,
    async close() {
      const closed = new Promise<void>((resolve) =>
        server.close(() => resolve())
      );
      // Close the sockets without a GOAWAY first: Deno's HTTP/2 client
      // (nghttp2) can abort on a GOAWAY that races its own stream closes.
      for (const socket of sockets) socket.destroy();
      for (const session of sessions) session.destroy();
      await closed;
      await fs.rm(options.path, { force: true });
    },
  };
}

/** Removes a socket file left by a daemon that died; refuses other files. */
async function removeStaleSocket(path: string) {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new Error(`${path} exists and is not a socket`);
  }
  await fs.rm(path);
}
