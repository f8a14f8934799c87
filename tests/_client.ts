/**
 * A raw API client for the integration tests' calls that the client library
 * (`src/client/`, which always carries a namespace) cannot make: calls with
 * no `containerd-namespace` header at all. Everything else goes through the
 * library.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as net from "node:net";

/** Options for {@linkcode apiClient}. */
export interface ApiClientOptions {
  /** The daemon's socket. */
  address: string;
  /** The namespace header; none when undefined. */
  namespace?: string;
  /** The lease header; none when undefined. */
  lease?: string;
}

/** A client for `service` over the daemon's socket. */
export function apiClient<S extends DescService>(
  service: S,
  options: ApiClientOptions,
): Client<S> {
  return createClient(
    service,
    createGrpcTransport({
      baseUrl: "http://localhost",
      nodeOptions: { createConnection: () => net.connect(options.address) },
      interceptors: [(next) => (req) => {
        if (options.namespace) {
          req.header.set("containerd-namespace", options.namespace);
        }
        if (options.lease) req.header.set("containerd-lease", options.lease);
        return next(req);
      }],
    }),
  );
}
