/**
 * The client side of the socket: a gRPC transport over the daemon's UNIX
 * socket that stamps every call with the namespace header, and typed
 * clients for each service.
 *
 * @module
 */
import {
  type Client,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import * as net from "node:net";
import { CoreClient } from "../src/client/core.ts";

/** The header containerd reads the namespace from. */
export const NAMESPACE_HEADER = "containerd-namespace";

/** Global client options (`--address`, `--namespace`, `--timeout`). */
export interface ClientOptions {
  /** Path of the daemon's socket. */
  address: string;
  /** Namespace every call runs in. */
  namespace: string;
  /** Milliseconds a whole command may take; 0 for no limit. */
  timeoutMs: number;
}

/** A connection to the daemon. */
export class Connection {
  /** The options it was made with. */
  readonly options: ClientOptions;
  readonly #transport: Transport;
  readonly #abort = new AbortController();
  /** The client library's client for the same daemon and namespace. */
  readonly api: CoreClient;

  /** Connects lazily: nothing is dialled until the first call. */
  constructor(options: ClientOptions) {
    this.options = options;
    const stampNamespace: Interceptor = (next) => (req) => {
      req.header.set(NAMESPACE_HEADER, options.namespace);
      return next(req);
    };
    this.#transport = createGrpcTransport({
      baseUrl: "http://localhost",
      interceptors: [stampNamespace],
      nodeOptions: { createConnection: () => net.connect(options.address) },
    });
    this.api = new CoreClient({
      address: options.address,
      namespace: options.namespace,
      signal: this.#abort.signal,
    });
    if (options.timeoutMs > 0) {
      const timer = setTimeout(() => this.#abort.abort(), options.timeoutMs);
      Deno.unrefTimer(timer);
    }
  }

  /** Aborts when the command's timeout passes; pass it to every call. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** A typed client for `service`. */
  client<S extends DescService>(service: S): Client<S> {
    return createClient(service, this.#transport);
  }
}
