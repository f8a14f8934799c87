/**
 * One UNIX socket, two protocols: HTTP/2 (gRPC, for Go clients like ctr)
 * and HTTP/1.1 (the Connect protocol, for curl with JSON).
 *
 * Connections are accepted with `Deno.listen` and their first bytes are
 * read for the HTTP/2 preface: HTTP/2 connections go to berth's own
 * HTTP/2 server (`src/h2/`), which reads and writes the `Deno.Conn`
 * itself (`node:net`'s streams cost the daemon more per call than the
 * rest of the transport), the others to `node:http`.
 *
 * @module
 */
import * as fs from "node:fs/promises";
import * as http from "node:http";
import { H2Server, type H2Stream } from "../h2/mod.ts";
import { setListenBacklog } from "../sys/backlog.ts";
import { ConnDuplex } from "./_conn_duplex.ts";

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

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0");

/**
 * Connections the kernel queues before the daemon accepts them (capped by
 * `net.core.somaxconn`). node's default, 511, refused a quarter of 1000
 * clients connecting at once with EAGAIN; containerd refuses none. (Deno's
 * is 1024.)
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

/**
 * Milliseconds between attempts to accept after a failure (out of
 * descriptors: connections must end before more can be accepted).
 */
const ACCEPT_RETRY_MS = 50;

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
  /** Closes each connection not handed to the HTTP/2 server (it closes its own). */
  const others = new Set<() => void>();
  const firstBytesTimeout = options.firstBytesTimeout ??
    FIRST_BYTES_TIMEOUT_MS;

  /** Reads the first bytes of `conn` and hands it to its protocol's server. */
  async function route(conn: Deno.Conn) {
    const sniffing = () => closeConn(conn);
    others.add(sniffing);
    const timer = setTimeout(() => closeConn(conn), firstBytesTimeout);
    let head: Uint8Array | undefined;
    try {
      head = await readHead(conn);
    } finally {
      clearTimeout(timer);
      others.delete(sniffing);
    }
    if (!head) {
      closeConn(conn);
      return;
    }
    if (startsWithPreface(head)) {
      h2.serve(conn, head);
      return;
    }
    const socket = new ConnDuplex(conn, head);
    const destroy = () => socket.destroy();
    others.add(destroy);
    socket.on("close", () => others.delete(destroy));
    socket.on("error", () => socket.destroy());
    h1.emit("connection", socket);
  }

  await removeStaleSocket(options.path);
  const server = Deno.listen({ transport: "unix", path: options.path });
  try {
    setListenBacklog(options.path, LISTEN_BACKLOG);
    await fs.chmod(options.path, options.mode ?? 0o660);
    await fs.chown(options.path, options.uid ?? 0, options.gid ?? 0);
  } catch (err) {
    server.close();
    throw err;
  }

  let closed = false;
  const accepting = (async () => {
    while (!closed) {
      let conn;
      try {
        conn = await server.accept();
      } catch {
        if (closed) return;
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      route(conn).catch(() => closeConn(conn));
    }
  })();

  return {
    path: options.path,
    async close() {
      closed = true;
      server.close();
      await accepting;
      for (const close of [...others]) close();
      await h2.shutdown(SHUTDOWN_GRACE_MS);
      await fs.rm(options.path, { force: true });
    },
  };
}

/**
 * Reads until the bytes tell HTTP/2's preface from anything else; the
 * bytes read, or undefined when the connection ended (or was closed)
 * first.
 */
async function readHead(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  let head = new Uint8Array(0);
  const buffer = new Uint8Array(1024);
  while (head.length < PREFACE.length && startsWithPreface(head)) {
    let n;
    try {
      n = await conn.read(buffer);
    } catch {
      return undefined;
    }
    if (n === null) return undefined;
    const grown = new Uint8Array(head.length + n);
    grown.set(head);
    grown.set(buffer.subarray(0, n), head.length);
    head = grown;
  }
  return head;
}

/** True when `bytes` begin as HTTP/2's preface does (as far as they go). */
function startsWithPreface(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFACE[i]) return false;
  return true;
}

function closeConn(conn: Deno.Conn) {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
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
