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
  EnvelopeSchema,
  Events,
} from "../gen/containerd/services/events/v1/events_pb.ts";
import { Events as TtrpcEvents } from "../gen/containerd/services/ttrpc/events/v1/events_pb.ts";
import type { RawHandler } from "../ttrpc/server.ts";
import type { Exchange } from "../events/mod.ts";
import { dateFromSecondsAndNanos, invalidArgument } from "../types/mod.ts";
import { requireNamespace } from "./_rpc.ts";
import { toTimestamp } from "./_convert.ts";
import {
  decodeForwardRequest,
  type ForwardedEnvelope,
} from "./_forward_request.ts";

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

/** `google.protobuf.Empty`, encoded. */
const EMPTY = new Uint8Array();

/**
 * The ttrpc Events service shims call on the daemon's `.ttrpc` socket
 * (`containerd.services.events.ttrpc.v1.Events`): Forward only, read by
 * hand (`_forward_request.ts`), its answer the empty message's bytes.
 */
export function eventsTtrpcHandlers(
  exchange: Pick<EventExchange, "forward">,
): Record<string, RawHandler> {
  return {
    Forward(payload) {
      try {
        forward(exchange, readForwardRequest(payload));
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve(EMPTY);
    },
  };
}

/** The envelope of a `Forward` request; InvalidArgument when malformed. */
function readForwardRequest(payload: Uint8Array) {
  try {
    return decodeForwardRequest(payload);
  } catch (err) {
    throw invalidArgument(
      `ttrpc: decode ${TtrpcEvents.method.forward.input.typeName}: ${
        (err as Error).message
      }`,
    );
  }
}

/** Puts a forwarded envelope on the exchange as it is. */
function forward(
  exchange: Pick<EventExchange, "forward">,
  envelope: ForwardedEnvelope | undefined,
): void {
  if (!envelope?.event) {
    throw invalidArgument("envelope must carry an event");
  }
  exchange.forward({
    timestamp: envelope.timestamp
      ? dateFromSecondsAndNanos(envelope.timestamp)
      : new Date(0),
    namespace: envelope.namespace,
    topic: envelope.topic,
    event: { typeUrl: envelope.event.typeUrl, value: envelope.event.value },
  });
}

export { Events, TtrpcEvents };
