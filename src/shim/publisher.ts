/**
 * The shim's task events, forwarded to the daemon over ttrpc as
 * containerd's shims do: `containerd.services.events.ttrpc.v1.Events/Forward`
 * on the socket named by `TTRPC_ADDRESS` (the daemon's address + `.ttrpc`).
 *
 * Events are queued and sent in order by one loop. A daemon that is down
 * (restarting) is retried a few times with back-off; then the event is
 * dropped, as containerd does: the state itself stays queryable.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Events,
  ForwardRequestSchema,
} from "../gen/containerd/services/ttrpc/events/v1/events_pb.ts";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { TtrpcClient } from "../ttrpc/client.ts";
import { SendQueue } from "./_send_queue.ts";
import { shimNow, toTimestamp } from "./timestamp.ts";

const ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 100;
const CALL_TIMEOUT_MS = 5_000;

interface Queued {
  topic: string;
  typeName: string;
  value: Uint8Array;
  timestamp: Date;
}

/** Publishes one namespace's events to the daemon. */
export class EventPublisher {
  readonly #address: string;
  readonly #namespace: string;
  readonly #queue = new SendQueue<Queued>((event) => this.#forward(event));
  #client: TtrpcClient | undefined;

  /** A publisher to ttrpc socket `address` ("" publishes nothing). */
  constructor(address: string, namespace: string) {
    this.#address = address.replace(/^unix:\/\//, "");
    this.#namespace = namespace;
  }

  /** Queues `message` under `topic` (e.g. `/tasks/exit`). */
  publish<Desc extends DescMessage>(
    topic: string,
    schema: Desc,
    message: MessageInitShape<Desc>,
  ): void {
    if (!this.#address) return;
    this.#queue.push({
      topic,
      typeName: schema.typeName,
      value: toBinary(schema, create(schema, message)),
      timestamp: shimNow(),
    });
  }

  /** Resolves when everything queued so far has been sent or dropped. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /** Flushes and disconnects. */
  async close(): Promise<void> {
    await this.flush();
    await this.#client?.close();
    this.#client = undefined;
  }

  /** Forwards `event`, retried a few times; then it is dropped. */
  async #forward(event: Queued): Promise<void> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        this.#client ??= await TtrpcClient.connect(this.#address);
        await this.#client.call(
          Events.typeName,
          "Forward",
          ForwardRequestSchema,
          {
            envelope: {
              timestamp: toTimestamp(event.timestamp),
              namespace: this.#namespace,
              topic: event.topic,
              event: { typeUrl: event.typeName, value: event.value },
            },
          },
          EmptySchema,
          { timeoutMs: CALL_TIMEOUT_MS },
        );
        return;
      } catch {
        await this.#client?.close().catch(() => {});
        this.#client = undefined;
        await new Promise((r) =>
          setTimeout(r, FIRST_BACKOFF_MS * 2 ** attempt)
        );
      }
    }
  }
}
