/**
 * The in-process event exchange: publish, forward and subscribe with
 * containerd's filter language over the envelope (`topic`, `namespace`,
 * `event.<field>`).
 *
 * @module
 */
import { parseFilters } from "../filters/mod.ts";
import type { Adaptor, Filter } from "../filters/mod.ts";
import {
  BerthError,
  CheckedOnce,
  Code,
  invalidArgument,
  NanoDate,
  unavailable,
  validateIdentifier,
} from "../types/mod.ts";
import { realtimeNanos } from "../sys/clock.ts";

/** An event payload: a protobuf message packed like `google.protobuf.Any`. */
export interface EventPayload {
  /** The message's type name (`containerd.events.NamespaceCreate`). */
  typeUrl: string;
  /** The encoded message. */
  value: Uint8Array;
}

/** One event as it travels: when, where, what. */
export interface Envelope {
  /** When it was published. */
  timestamp: Date;
  /** The namespace it happened in. */
  namespace: string;
  /** Its topic (`/namespaces/create`). */
  topic: string;
  /** Its payload. */
  event: EventPayload;
}

/** Reads a field of a payload for filters, or undefined when absent. */
export type EventFieldReader = (
  event: EventPayload,
  path: string[],
) => string | undefined;

/** Options for {@linkcode Exchange}. */
export interface ExchangeOptions {
  /** Decodes payload fields for `event.*` filters; none match without it. */
  eventField?: EventFieldReader;
  /** Events a slow subscriber may fall behind by before it is dropped. */
  maxBacklog?: number;
}

/** Checks a topic as containerd does: `/` then identifier components. */
export function validateTopic(topic: string): void {
  const fail = (why: string) =>
    invalidArgument(`envelope topic ${JSON.stringify(topic)}: ${why}`);
  if (topic === "") throw fail("must not be empty");
  if (!topic.startsWith("/")) throw fail("must start with '/'");
  if (topic.length === 1) throw fail("must have at least one component");
  for (const component of topic.slice(1).split("/")) {
    try {
      validateIdentifier(component);
    } catch (err) {
      throw fail(
        `failed validation on component ${JSON.stringify(component)}: ${
          (err as Error).message
        }`,
      );
    }
  }
}

/** Namespaces and topics found valid. */
const namespaces = new CheckedOnce(validateIdentifier);
const topics = new CheckedOnce(validateTopic);

interface Subscriber {
  filter: Filter;
  queue: Envelope[];
  wake?: () => void;
  failure?: BerthError;
}

/** Publish/subscribe for events of every namespace. */
export class Exchange {
  readonly #subscribers = new Set<Subscriber>();
  readonly #eventField: EventFieldReader;
  readonly #maxBacklog: number;
  #closed = false;

  /** Creates an exchange. */
  constructor(options: ExchangeOptions = {}) {
    this.#eventField = options.eventField ?? (() => undefined);
    this.#maxBacklog = options.maxBacklog ?? 10_000;
  }

  /** Publishes `event` on `topic` in `namespace`, stamped now. */
  publish(namespace: string, topic: string, event: EventPayload): Envelope {
    namespaces.check(namespace);
    topics.check(topic);
    const envelope = {
      timestamp: new NanoDate(realtimeNanos()),
      namespace,
      topic,
      event,
    };
    this.#deliver(envelope);
    return envelope;
  }

  /** Delivers an envelope published elsewhere (a shim), keeping its stamp. */
  forward(envelope: Envelope): void {
    try {
      namespaces.check(envelope.namespace);
    } catch (err) {
      throw invalidArgument(
        `event envelope has invalid namespace: ${(err as Error).message}`,
      );
    }
    topics.check(envelope.topic);
    if (envelope.timestamp.getTime() <= 0) {
      throw invalidArgument("timestamp must be set on forwarded event");
    }
    this.#deliver(envelope);
  }

  /**
   * Ends every subscription (after the events queued for it) with
   * Unavailable, and refuses new ones: the daemon is stopping, and a
   * subscription never ends by itself.
   */
  close(): void {
    this.#closed = true;
    for (const subscriber of this.#subscribers) {
      subscriber.failure ??= shuttingDown();
      subscriber.wake?.();
    }
  }

  /**
   * Yields every event matching any of `filters` (all when none) until
   * `signal` aborts. Bad filters throw InvalidArgument before anything is
   * yielded; a subscriber that falls too far behind is ended with
   * ResourceExhausted rather than growing without bound, and every one with
   * Unavailable once the exchange is closed.
   */
  subscribe(
    filters: readonly string[],
    signal: AbortSignal,
  ): AsyncIterable<Envelope> {
    let filter: Filter;
    try {
      filter = parseFilters(filters);
    } catch (err) {
      throw invalidArgument(
        `failed parsing subscription filters: ${(err as Error).message}`,
      );
    }
    if (this.#closed) throw shuttingDown();
    const subscriber: Subscriber = { filter, queue: [] };
    this.#subscribers.add(subscriber);
    const subscribers = this.#subscribers;
    const onAbort = () => subscriber.wake?.();
    signal.addEventListener("abort", onAbort);
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (!signal.aborted) {
            const next = subscriber.queue.shift();
            if (next) {
              yield next;
              continue;
            }
            if (subscriber.failure) throw subscriber.failure;
            await new Promise<void>((resolve) => subscriber.wake = resolve);
            subscriber.wake = undefined;
          }
        } finally {
          subscribers.delete(subscriber);
          signal.removeEventListener("abort", onAbort);
        }
      },
    };
  }

  #deliver(envelope: Envelope) {
    const adaptor = this.#adaptor(envelope);
    for (const subscriber of this.#subscribers) {
      if (subscriber.failure || !subscriber.filter.match(adaptor)) continue;
      if (subscriber.queue.length >= this.#maxBacklog) {
        subscriber.failure = new BerthError(
          Code.ResourceExhausted,
          "event subscriber fell too far behind",
        );
      } else {
        subscriber.queue.push(envelope);
      }
      subscriber.wake?.();
    }
  }

  #adaptor(envelope: Envelope): Adaptor {
    return {
      field: (path) => {
        switch (path[0]) {
          case "namespace":
            return envelope.namespace;
          case "topic":
            return envelope.topic;
          case "event":
            return path.length > 1
              ? this.#eventField(envelope.event, path.slice(1))
              : undefined;
        }
        return undefined;
      },
    };
  }
}

function shuttingDown(): BerthError {
  return unavailable("the daemon is shutting down");
}
