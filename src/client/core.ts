/**
 * {@linkcode CoreClient}: a connection to a daemon speaking containerd's
 * v1 API (berth or containerd itself) and the context every call carries —
 * the namespace, an optional lease and an abort signal — with what needs
 * little code: services, containers, tasks, content, snapshots, leases,
 * events. {@linkcode Client} (`client.ts`) adds pulling, images and new
 * containers; a program that needs only the core loads only its modules.
 *
 * @module
 */
import {
  type CallOptions,
  type Client as ServiceClient,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { Containers } from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { Events } from "../gen/containerd/services/events/v1/events_pb.ts";
import { Version } from "../gen/containerd/services/version/v1/version_pb.ts";
import { Container } from "./container.ts";
import { ContentStore } from "./content.ts";
import { toClientError } from "./errors.ts";
import { type LeaseOptions, withLease } from "./leases.ts";
import { Snapshotter } from "./snapshots.ts";
import { unixTransport } from "./transport.ts";

/**
 * The gRPC metadata header containerd reads the namespace from.
 *
 * @example
 * ```ts
 * import { NAMESPACE_HEADER } from "@berth/berth/client";
 * console.log(NAMESPACE_HEADER); // "containerd-namespace"
 * ```
 */
export const NAMESPACE_HEADER = "containerd-namespace";
/**
 * The gRPC metadata header containerd reads the lease from.
 *
 * @example
 * ```ts
 * import { LEASE_HEADER } from "@berth/berth/client";
 * console.log(LEASE_HEADER); // "containerd-lease"
 * ```
 */
export const LEASE_HEADER = "containerd-lease";
/**
 * The namespace used when none is given, as ctr's.
 *
 * @example
 * ```ts
 * import { DEFAULT_NAMESPACE } from "@berth/berth/client";
 * console.log(DEFAULT_NAMESPACE); // "default"
 * ```
 */
export const DEFAULT_NAMESPACE = "default";

/**
 * The context of calls: what every request carries.
 *
 * @example
 * ```ts
 * import { Client, type CallContext } from "@berth/berth/client";
 * const context: CallContext = { namespace: "k8s.io" };
 * const client = new Client({ address: "/run/berth/berth.sock", ...context });
 * ```
 */
export interface CallContext {
  /** The namespace (`containerd-namespace` header). */
  namespace: string;
  /** A lease that holds what the calls create (`containerd-lease`). */
  lease?: string;
  /** Aborts every call made in this context. */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode Client}: where to connect, and the context.
 *
 * @example
 * ```ts
 * import { Client, type ClientOptions } from "@berth/berth/client";
 * const options: ClientOptions = { address: "/run/berth/berth.sock", namespace: "default" };
 * const client = new Client(options);
 * ```
 */
export interface ClientOptions {
  /** Path of the daemon's UNIX socket (used unless `transport` is given). */
  address?: string;
  /** Any Connect transport to the daemon. */
  transport?: Transport;
  /** Namespace of the calls (default `default`). */
  namespace?: string;
  /** Lease of the calls. */
  lease?: string;
  /** Aborts every call. */
  signal?: AbortSignal;
}

/** Headers of a call in `context`. */
function contextHeaders(context: CallContext): Record<string, string> {
  const headers: Record<string, string> = {
    [NAMESPACE_HEADER]: context.namespace,
  };
  if (context.lease) headers[LEASE_HEADER] = context.lease;
  return headers;
}

/** The stream's messages, its failure a typed error. */
async function* typedErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toClientError(err);
  }
}

/**
 * `client`'s methods with the context's headers and signal added to every
 * call, and their errors typed.
 */
function withContext<S extends DescService>(
  service: S,
  client: ServiceClient<S>,
  context: CallContext,
): ServiceClient<S> {
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (client as Record<string, unknown>)[method.localName] as (
      input: unknown,
      options?: CallOptions,
    ) => unknown;
    wrapped[method.localName] = (input: unknown, options: CallOptions = {}) => {
      const signal = context.signal && options.signal
        ? AbortSignal.any([context.signal, options.signal])
        : options.signal ?? context.signal;
      const merged: CallOptions = {
        ...options,
        signal,
        headers: { ...contextHeaders(context), ...headersOf(options.headers) },
      };
      if (
        method.methodKind === "unary" ||
        method.methodKind === "client_streaming"
      ) {
        return (call(input, merged) as Promise<unknown>).catch((err) => {
          throw toClientError(err);
        });
      }
      return typedErrors(call(input, merged) as AsyncIterable<unknown>);
    };
  }
  return wrapped as ServiceClient<S>;
}

function headersOf(init: HeadersInit | undefined): Record<string, string> {
  return init ? Object.fromEntries(new Headers(init).entries()) : {};
}

/**
 * A client of one daemon in one context. Derive clients for another
 * namespace, lease or signal with {@linkcode Client.with}; they share the
 * connection.
 *
 * @example
 * ```ts
 * import { CoreClient as Client } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock", namespace: "default" });
 * console.log((await client.version()).version);
 * ```
 */
export class CoreClient {
  /** What every call of this client carries. */
  readonly context: Readonly<CallContext>;
  readonly #transport: Transport;
  readonly #services = new Map<DescService, unknown>();

  /** Connects lazily: nothing is dialled until the first call. */
  constructor(options: ClientOptions) {
    if (!options.transport && !options.address) {
      throw new TypeError("a Client needs an address or a transport");
    }
    this.#transport = options.transport ?? unixTransport(options.address!);
    this.context = {
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      lease: options.lease,
      signal: options.signal,
    };
  }

  /**
   * A client sharing this one's connection, with parts of the context
   * replaced (e.g. another namespace, or a lease).
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const k8s = client.with({ namespace: "k8s.io" });
   * console.log(k8s.context.namespace);
   * ```
   */
  with(context: Partial<CallContext>): this {
    const Class = this.constructor as new (options: ClientOptions) => this;
    return new Class({
      transport: this.#transport,
      ...this.context,
      ...context,
    });
  }

  /**
   * A typed client for one of the API's services, carrying this client's
   * context; its errors are {@linkcode ClientError}s.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * import { Namespaces } from "../gen/containerd/services/namespaces/v1/namespace_pb.ts";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const { namespaces } = await client.service(Namespaces).list({});
   * ```
   */
  service<S extends DescService>(service: S): ServiceClient<S> {
    let client = this.#services.get(service) as ServiceClient<S> | undefined;
    if (!client) {
      client = withContext(
        service,
        createClient(service, this.#transport),
        this.context,
      );
      this.#services.set(service, client);
    }
    return client;
  }

  /**
   * The daemon's version and revision.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * console.log(await client.version());
   * ```
   */
  async version(): Promise<{ version: string; revision: string }> {
    const { version, revision } = await this.service(Version).version({});
    return { version, revision };
  }

  /**
   * Runs `fn` with a client whose calls carry a new lease, deleted after.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * await client.withLease((leased) => leased.version());
   * ```
   */
  async withLease<T>(
    fn: (leased: this) => Promise<T>,
    options?: LeaseOptions,
  ): Promise<T> {
    return await withLease(this, fn, options);
  }

  /**
   * The events that match any of `filters` (all events without filters),
   * as they happen.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * for await (const e of client.subscribe(['topic~="/tasks/"'])) console.log(e.topic);
   * ```
   */
  async *subscribe(filters: string[] = []): AsyncGenerator<EventEnvelope> {
    for await (const e of this.service(Events).subscribe({ filters })) {
      yield {
        timestamp: e.timestamp
          ? new Date(
            Number(e.timestamp.seconds) * 1000 + e.timestamp.nanos / 1e6,
          )
          : undefined,
        namespace: e.namespace,
        topic: e.topic,
        event: e.event,
      };
    }
  }

  /**
   * The container `id`; NotFoundError when there is none.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * const container = await client.loadContainer("c1");
   * ```
   */
  async loadContainer(id: string): Promise<Container> {
    const { container } = await this.service(Containers).get({ id });
    return new Container(this, container!);
  }

  /**
   * The daemon's content store, in this client's namespace and lease.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * console.log((await client.content().info("sha256:…")).size);
   * ```
   */
  content(): ContentStore {
    return new ContentStore(this);
  }

  /**
   * Snapshotter `name` ("" for the default) of the daemon.
   *
   * @example
   * ```ts
   * import { CoreClient as Client } from "@berth/berth/client";
   * const client = new Client({ address: "/run/berth/berth.sock" });
   * console.log(await client.snapshotter().exists("sha256:…"));
   * ```
   */
  snapshotter(name = ""): Snapshotter {
    return new Snapshotter(this, name);
  }
}

/**
 * An event as {@linkcode Client.subscribe} yields it.
 *
 * @example
 * ```ts
 * import { Client, type EventEnvelope } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * for await (const e of client.subscribe()) {
 *   const envelope: EventEnvelope = e;
 *   console.log(envelope.topic);
 * }
 * ```
 */
export interface EventEnvelope {
  /** When it was published. */
  timestamp?: Date;
  /** The namespace it happened in. */
  namespace: string;
  /** Its topic (`/tasks/exit` …). */
  topic: string;
  /** The payload (decode it with `decodeEvent`). */
  event?: { typeUrl: string; value: Uint8Array };
}
