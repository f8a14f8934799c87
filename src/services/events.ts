/**
 * `containerd.services.events.v1.Events`: Publish (in the request's
 * namespace), Forward (an envelope as it is) and Subscribe (a stream,
 * filtered).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  AnySchema,
  EmptySchema,
  timestampDate,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  EnvelopeSchema,
  Events,
} from "../gen/containerd/services/events/v1/events_pb.ts";
import type { Exchange } from "../events/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { requireNamespace } from "./_rpc.ts";

/** The Events service over `exchange`. */
export function eventsService(
  exchange: Exchange,
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
      const envelope = req.envelope;
      if (!envelope?.event) {
        throw invalidArgument("envelope must carry an event");
      }
      exchange.forward({
        timestamp: envelope.timestamp
          ? timestampDate(envelope.timestamp)
          : new Date(0),
        namespace: envelope.namespace,
        topic: envelope.topic,
        event: { typeUrl: envelope.event.typeUrl, value: envelope.event.value },
      });
      return create(EmptySchema);
    },
    async *subscribe(req, ctx) {
      for await (
        const envelope of exchange.subscribe(req.filters, ctx.signal)
      ) {
        yield create(EnvelopeSchema, {
          timestamp: timestampFromDate(envelope.timestamp),
          namespace: envelope.namespace,
          topic: envelope.topic,
          event: create(AnySchema, envelope.event),
        });
      }
    },
  };
}

export { Events };
