/**
 * The client side of the socket: one connection to the daemon through the
 * client library, in the command's namespace, with the command's timeout,
 * and typed clients for each service.
 *
 * @module
 */
import type { Client } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { CoreClient } from "../src/client/core.ts";

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
  readonly #abort = new AbortController();
  /** The client library's client for the daemon, in the namespace. */
  readonly api: CoreClient;

  /** Connects lazily: nothing is dialled until the first call. */
  constructor(options: ClientOptions) {
    this.options = options;
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

  /**
   * A typed client for `service`, the library's: the namespace and the
   * timeout travel with every call, and failures are its typed errors.
   */
  client<S extends DescService>(service: S): Client<S> {
    return this.api.service(service);
  }
}
