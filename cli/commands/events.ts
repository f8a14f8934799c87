/**
 * `berth ctr events [filters...]`: the event stream, one line an event
 * (`TIMESTAMP NAMESPACE TOPIC JSON`), as ctr prints it.
 *
 * @module
 */
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import {
  eventRegistry as registry,
  typeNameOf,
} from "../../src/api/event_registry.ts";
import { Events } from "../../src/gen/containerd/services/events/v1/events_pb.ts";
import type { Connection } from "../_client.ts";
import { formatGoTime } from "../_format.ts";

/** Adds the command to `program`. */
export function eventsCommand(
  program: Command,
  connect: () => Connection,
): void {
  program.command("events").alias("event")
    .description("display berth events")
    .argument("[filters...]", 'filters, e.g. topic~="/namespaces/"')
    .action(async (filters: string[]) => {
      const conn = connect();
      const stream = conn.client(Events).subscribe({ filters }, {
        signal: conn.signal,
      });
      for await (const envelope of stream) {
        let json = "";
        if (envelope.event) {
          const schema = registry.getMessage(
            typeNameOf(envelope.event.typeUrl),
          );
          json = schema
            ? JSON.stringify(
              toJson(schema, fromBinary(schema, envelope.event.value), {
                useProtoFieldName: true,
              }),
            )
            : "";
        }
        const when = envelope.timestamp
          ? formatGoTime(
            timestampDate(envelope.timestamp),
            envelope.timestamp.nanos,
          )
          : "";
        console.log(`${when} ${envelope.namespace} ${envelope.topic} ${json}`);
      }
    });
}
