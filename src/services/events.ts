/**
 * `containerd.services.events.v1.Events`: Publish (in the request's
 * namespace), Forward (an envelope as it is) and Subscribe (a stream,
 * filtered).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema, EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type Envelope,
  EnvelopeSchema,
  Events,
} from "../gen/containerd/services/events/v1/events_pb.ts";
import { Events as TtrpcEvents } from "../gen/containerd/services/ttrpc/events/v1/events_pb.ts";
import type { TtrpcServiceImpl } from "../ttrpc/server.ts";
import type { Exchange } from "../events/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { requireNamespace } from "./_rpc.ts";
import { fromTimestamp, toTimestamp } from "./_convert.ts";

/** What the Events services ask of the exchange. */
export type EventExchange = Pick<Exchange, "publish" | "forward" | "subscribe">;

/** The Events service over `exchange`. */
export function eventsService(
  exchange: EventExchange,
): ServiceImpl<typeof Events> {
  return {
    publish(req, ctx) {
      const namespace = requireNamespace(ctx);
      if (!req.event) throw invalidArgument("event must be set");
      exchange.publish(namespace, req.topic, {
        typeUrl: req.event.typeUrl,
        value: req.event.value,
      });
      return create(EmptySchema);
    },
    forward(req) {
      forward(exchange, req.envelope);
      return create(EmptySchema);
    },
    async *subscribe(req, ctx) {
      for await (
        const envelope of exchange.subscribe(req.filters, ctx.signal)
      ) {
        yield create(EnvelopeSchema, {
          timestamp: toTimestamp(envelope.timestamp),
          namespace: envelope.namespace,
          topic: envelope.topic,
          event: create(AnySchema, envelope.event),
        });
      }
    },
  };
}

/**
 * The ttrpc Events service shims call on the daemon's `.ttrpc` socket
 * (`containerd.services.events.ttrpc.v1.Events`): Forward only.
 */
export function eventsTtrpcService(
  exchange: Pick<EventExchange, "forward">,
): TtrpcServiceImpl<typeof TtrpcEvents> {
  return {
    forward(req) {
      forward(exchange, req.envelope);
      return Promise.resolve({});
    },
  };
}

/** Puts a forwarded envelope on the exchange as it is. */
function forward(
  exchange: Pick<EventExchange, "forward">,
  envelope: Omit<Envelope, "$typeName"> | undefined,
): void {
  if (!envelope?.event) {
    throw invalidArgument("envelope must carry an event");
  }
  exchange.forward({
    timestamp: envelope.timestamp
      ? fromTimestamp(envelope.timestamp)
      : new Date(0),
    namespace: envelope.namespace,
    topic: envelope.topic,
    event: { typeUrl: envelope.event.typeUrl, value: envelope.event.value },
  });
}

export { Events, TtrpcEvents };
