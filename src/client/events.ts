/**
 * Event payloads decoded: each event's `Any` as its message, through the
 * registry of every event type of the API (`containerd.events.*` and
 * berth's).
 *
 * @module
 */
import { fromBinary, type JsonValue, toJson } from "@bufbuild/protobuf";
import { eventRegistry, typeNameOf } from "../api/event_registry.ts";

/**
 * The payload of an event as JSON (proto field names), or undefined for
 * a type this client does not know.
 *
 * @example
 * ```ts
 * import { Client, decodeEvent } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * for await (const envelope of client.subscribe(['topic=="/tasks/exit"'])) {
 *   console.log(decodeEvent(envelope.event));
 * }
 * ```
 */
export function decodeEvent(
  event: { typeUrl: string; value: Uint8Array } | undefined,
): JsonValue | undefined {
  if (!event) return undefined;
  const schema = eventRegistry.getMessage(typeNameOf(event.typeUrl));
  if (!schema) return undefined;
  return toJson(schema, fromBinary(schema, event.value), {
    useProtoFieldName: true,
  });
}
