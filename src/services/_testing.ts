/**
 * For the adapters' own tests: a client of one service served in-process
 * by connect-es's router transport, with the daemon's error mapping, so a
 * test sees the gRPC codes and messages a real client would, without a
 * socket.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  createClient,
  createRouterTransport,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { EventPayload } from "../events/mod.ts";
import { log } from "../log/mod.ts";
import type { EventPublisher } from "./_events.ts";
import { errorInterceptor, LEASE_HEADER, NAMESPACE_HEADER } from "./_rpc.ts";

/** Options for {@linkcode routerClient}. */
export interface RouterClientOptions {
  /** Sent as `containerd-namespace` on every call; none when absent. */
  namespace?: string;
  /** Sent as `containerd-lease` on every call; none when absent. */
  lease?: string;
}

/**
 * A client of `service` implemented by `impl`, in-process.
 *
 * @example
 * ```ts ignore
 * const client = routerClient(Leases, leasesService(deps), { namespace: "t" });
 * await client.list({});
 * ```
 */
export function routerClient<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  { namespace, lease }: RouterClientOptions = {},
): Client<S> {
  const transport = createRouterTransport(({ service: serve }) => {
    serve(service, impl);
  }, {
    router: { interceptors: [errorInterceptor(log)] },
    transport: {
      interceptors: [(next) => (req) => {
        if (namespace) req.header.set(NAMESPACE_HEADER, namespace);
        if (lease) req.header.set(LEASE_HEADER, lease);
        return next(req);
      }],
    },
  });
  return createClient(service, transport);
}

/** An event a {@linkcode RecordingPublisher} saw. */
export interface RecordedEvent {
  /** Its namespace. */
  namespace: string;
  /** Its topic. */
  topic: string;
  /** Its payload. */
  event: EventPayload;
}

/** A fake exchange that keeps what adapters publish, in order. */
export class RecordingPublisher implements EventPublisher {
  /** What was published. */
  readonly published: RecordedEvent[] = [];

  /** Records the event. */
  publish(namespace: string, topic: string, event: EventPayload): void {
    this.published.push({ namespace, topic, event });
  }

  /** The recorded events as `namespace topic` lines. */
  topics(): string[] {
    return this.published.map((e) => `${e.namespace} ${e.topic}`);
  }
}
