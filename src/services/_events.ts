/**
 * Event payloads between generated messages and the exchange: packing a
 * message as containerd does (bare type name, the gogo way ctr expects), and
 * reading payload fields for `event.*` filters.
 *
 * @module
 */
import {
  type DescField,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { eventRegistry, typeNameOf } from "../api/event_registry.ts";
import type { EventPayload } from "../events/mod.ts";

/** Where an adapter publishes its events (the exchange, or a test's fake). */
export interface EventPublisher {
  /** Publishes `event` on `topic` in `namespace`. */
  publish(namespace: string, topic: string, event: EventPayload): void;
}

/** Packs `message` for the exchange under its bare type name. */
export function packEvent<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): EventPayload {
  return { typeUrl: schema.typeName, value: toBinary(schema, message) };
}

/**
 * Reads a field of a known event payload by its protobuf field names
 * (`event.name`, `event.labels.KEY`); undefined for unknown payloads.
 */
export function readEventField(
  event: EventPayload,
  path: string[],
): string | undefined {
  const schema = eventRegistry.getMessage(typeNameOf(event.typeUrl));
  if (!schema) return undefined;
  let value: unknown = fromBinary(schema, event.value);
  let desc: DescMessage | undefined = schema;
  for (const name of path) {
    if (value === undefined || value === null) return undefined;
    if (desc) {
      const field: DescField | undefined = desc.fields.find((f) =>
        f.name === name
      );
      if (!field) return undefined;
      value = (value as Record<string, unknown>)[field.localName];
      desc = field.fieldKind === "message" ? field.message : undefined;
    } else if (typeof value === "object") {
      value = (value as Record<string, unknown>)[name];
    } else {
      return undefined;
    }
  }
  if (value === undefined || value === null || typeof value === "object") {
    return undefined;
  }
  return String(value);
}
