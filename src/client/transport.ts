/**
 * Transports to a containerd-API daemon: gRPC over a UNIX socket, as
 * containerd and berth listen. Any other Connect transport (gRPC over TCP,
 * gRPC-web, an in-process router) works with {@linkcode Client} as well.
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as net from "node:net";

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
  return createGrpcTransport({
    baseUrl: "http://localhost",
    nodeOptions: { createConnection: () => net.connect(address) },
  });
}
