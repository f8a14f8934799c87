/**
 * One UNIX socket, two protocols: HTTP/2 (gRPC, for Go clients like ctr)
 * and HTTP/1.1 (the Connect protocol, for curl with JSON).
 *
 * Connections are accepted on a plain `net` server and the first bytes
 * are peeked for the HTTP/2 preface: HTTP/2 sockets go to berth's own
 * HTTP/2 server (`src/h2/`), the others to `node:http`.
 *
 * @module
 */
import * as fs from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { H2Server, type H2Stream } from "../h2/mod.ts";

/** An HTTP/1.1 request handler (connect-node's adapter is one). */
export type RequestHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
) => void;

/** An HTTP/2 stream handler (gRPC). */
export type StreamHandler = (stream: H2Stream) => void;

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
  /**
   * Milliseconds a client has to send its first bytes (enough to tell
   * HTTP/2 from HTTP/1.1) before it is disconnected (default 10 s).
   */
  firstBytesTimeout?: number;
}

/** A listening socket. */
export interface Listener {
  /** The socket path. */
  readonly path: string;
  /**
   * Stops accepting, lets calls in flight finish (for a while), ends the
   * connections and removes the socket file.
   */
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
 * Milliseconds calls in flight have to finish once the daemon stops
 * listening (its HTTP/2 clients were sent GOAWAY); those still open then
 * are cut off (an `events` subscription never ends by itself).
 */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Milliseconds a new connection has to show its protocol: a client that
 * connects and sends nothing (or half a preface) would hold its socket
 * forever. (HTTP/2's own handshake is bounded by the SETTINGS timeout.)
 */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

/** Listens on a UNIX socket, serving HTTP/2 and HTTP/1.1 side by side. */
export async function listen(options: ListenOptions): Promise<Listener> {
  const h2 = new H2Server({
    onStream: options.streams,
    // Flow-control windows: HTTP/2's default, 64 KiB, lets a client send
    // one 64 KiB round trip at a time; an ingest of 1 MiB messages then
    // waits on window updates instead of the disk.
    streamWindow: STREAM_WINDOW,
    connectionWindow: SESSION_WINDOW,
  });
  const h1 = http.createServer(options.requests);
  /** Sockets not handed to the HTTP/2 server (it closes its own). */
  const others = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    others.add(socket);
    socket.on("close", () => others.delete(socket));
    socket.on("error", () => socket.destroy());
    const timer = setTimeout(
      () => socket.destroy(),
      options.firstBytesTimeout ?? FIRST_BYTES_TIMEOUT_MS,
    );
    socket.once("close", () => clearTimeout(timer));
    let head: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const text = head.subarray(0, PREFACE.length).toString("latin1");
      if (head.length < PREFACE.length && PREFACE.startsWith(text)) return;
      clearTimeout(timer);
      socket.off("data", onData);
      if (text === PREFACE) {
        others.delete(socket);
        h2.serve(socket, head);
        return;
      }
      socket.pause();
      socket.unshift(head);
      h1.emit("connection", socket);
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
      for (const socket of others) socket.destroy();
      await h2.shutdown(SHUTDOWN_GRACE_MS);
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
