/**
 * Transports to a containerd-API daemon: gRPC over a UNIX socket, as
 * containerd and berth listen. Any other Connect transport (gRPC over TCP,
 * gRPC-web, an in-process router) works with {@linkcode Client} as well.
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import {
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import type * as http2 from "node:http2";
import * as net from "node:net";

/**
 * connect-node's session manager, with each session's `goaway` event
 * delivered on the next turn of the event loop instead of inside the
 * HTTP/2 library's frame callback: connect-node destroys an idle session
 * from that event, and Deno 2.9's `node:http2` (nghttp2) aborts the whole
 * process when a session is destroyed while it handles the GOAWAY
 * (measured: an assertion in `find_stream_on_goaway_func`).
 */
class SessionManager extends Http2SessionManager {
  #seen = new WeakSet<http2.ClientHttp2Session>();

  override async request(
    ...args: Parameters<Http2SessionManager["request"]>
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session as http2.ClientHttp2Session | undefined;
    if (session && !this.#seen.has(session)) {
      this.#seen.add(session);
      const emit = session.emit;
      session.emit = function (event: string | symbol, ...rest: unknown[]) {
        if (event !== "goaway") return emit.call(this, event, ...rest);
        setImmediate(() => emit.call(this, event, ...rest));
        return true;
      };
    }
    return stream;
  }
}

/**
 * A gRPC transport over the UNIX socket at `address` (HTTP/2 with
 * trailers, what containerd speaks). Nothing is dialled until the first
 * call.
 *
 * @example
 * ```ts
 * import { Client, unixTransport } from "@berth/berth/client";
 * const client = new Client({ transport: unixTransport("/run/berth/berth.sock") });
 * ```
 */
export function unixTransport(address: string): Transport {
  const baseUrl = "http://localhost";
  return createGrpcTransport({
    baseUrl,
    sessionManager: new SessionManager(baseUrl, {}, {
      createConnection: () => net.connect(address),
    }),
  });
}
