import assert from "node:assert/strict";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Envelope, EventPayload } from "../events/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { join } from "node:path";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { ForwardRequestSchema } from "../gen/containerd/services/ttrpc/events/v1/events_pb.ts";
import { TtrpcClient, TtrpcServer } from "../ttrpc/mod.ts";
import { BerthError, Code as BerthCode } from "../types/mod.ts";
import {
  type EventExchange,
  Events,
  eventsService,
  eventsTtrpcHandlers,
  TtrpcEvents,
} from "./events.ts";
import { routerClient } from "./_testing.ts";

const AT = new Date(Date.UTC(2024, 4, 5, 6, 7, 8, 9));
const PAYLOAD = {
  typeUrl: "containerd.events.TaskExit",
  value: new Uint8Array([1, 2, 3]),
};

/**
 * An exchange that keeps what is published and forwarded, and hands each
 * subscriber the envelopes a test pushes, once it has subscribed.
 */
function fakeExchange() {
  const published: [string, string, EventPayload][] = [];
  const forwarded: Envelope[] = [];
  const subscribed = Promise.withResolvers<{
    filters: readonly string[];
    push: (envelope: Envelope) => void;
    signal: AbortSignal;
  }>();
  const exchange: EventExchange = {
    publish(namespace, topic, event) {
      if (!topic.startsWith("/")) throw invalidArgument(`topic ${topic}`);
      published.push([namespace, topic, event]);
      return { timestamp: AT, namespace, topic, event };
    },
    forward(envelope) {
      forwarded.push(envelope);
    },
    subscribe(filters, signal) {
      const queue: Envelope[] = [];
      let wake = Promise.withResolvers<void>();
      subscribed.resolve({
        filters,
        signal,
        push(envelope) {
          queue.push(envelope);
          wake.resolve();
        },
      });
      return (async function* () {
        while (!signal.aborted) {
          while (queue.length) yield queue.shift()!;
          await wake.promise;
          wake = Promise.withResolvers<void>();
        }
      })();
    },
  };
  return { exchange, published, forwarded, subscribed: subscribed.promise };
}

function setup() {
  const fake = fakeExchange();
  const client = routerClient(Events, eventsService(fake.exchange), {
    namespace: "ns1",
  });
  return { ...fake, client };
}

Deno.test("Events.Publish puts the event in the caller's namespace; without one it is refused", async () => {
  const { published, client } = setup();
  await client.publish({ topic: "/tasks/exit", event: PAYLOAD });
  assert.deepEqual(published, [["ns1", "/tasks/exit", PAYLOAD]]);
  await assert.rejects(client.publish({ topic: "/tasks/exit" }), {
    code: Code.InvalidArgument,
    rawMessage: "event must be set: invalid argument",
  });
  await assert.rejects(client.publish({ topic: "bad", event: PAYLOAD }), {
    code: Code.InvalidArgument,
    rawMessage: "topic bad: invalid argument",
  });
  assert.equal(published.length, 1);
});

Deno.test("Events.Forward keeps the envelope as it is; one without an event is refused", async () => {
  const { forwarded, client } = setup();
  await client.forward({
    envelope: {
      timestamp: timestampFromDate(AT),
      namespace: "other",
      topic: "/tasks/start",
      event: PAYLOAD,
    },
  });
  const [{ timestamp, ...rest }] = forwarded;
  assert.equal(timestamp.getTime(), AT.getTime());
  assert.deepEqual(rest, {
    namespace: "other",
    topic: "/tasks/start",
    event: PAYLOAD,
  });
  await assert.rejects(
    client.forward({ envelope: { namespace: "x", topic: "/t" } }),
    {
      code: Code.InvalidArgument,
      rawMessage: "envelope must carry an event: invalid argument",
    },
  );
  assert.equal(forwarded.length, 1);
});

Deno.test("Events.Subscribe passes the filters and streams envelopes until the client stops", async () => {
  const { subscribed, client } = setup();
  const abort = new AbortController();
  const stream = client.subscribe({ filters: ['topic=="/tasks/exit"'] }, {
    signal: abort.signal,
  })[Symbol.asyncIterator]();
  const first = stream.next();
  const subscriber = await subscribed;
  assert.deepEqual(subscriber.filters, ['topic=="/tasks/exit"']);
  subscriber.push({
    timestamp: AT,
    namespace: "ns2",
    topic: "/tasks/exit",
    event: PAYLOAD,
  });
  const { value } = await first;
  assert.equal(value?.namespace, "ns2");
  assert.equal(value?.topic, "/tasks/exit");
  assert.equal(value?.event?.typeUrl, PAYLOAD.typeUrl);
  assert.deepEqual(value?.event?.value, PAYLOAD.value);
  assert.equal(value?.timestamp?.nanos, 9_000_000);
  const ended = stream.next().catch((err) => err);
  abort.abort();
  await ended;
  assert.equal(subscriber.signal.aborted, true);
});

Deno.test("a shim's ttrpc Forward puts its envelope on the exchange, payload bytes as sent; a malformed one or one without an event is refused", async () => {
  const { exchange, forwarded } = fakeExchange();
  const dir = await Deno.makeTempDir({ prefix: "events-ttrpc-" });
  const server = new TtrpcServer();
  server.register(TtrpcEvents.typeName, eventsTtrpcHandlers(exchange));
  server.listen(join(dir, "s.sock"));
  const client = await TtrpcClient.connect(join(dir, "s.sock"));
  const forward = (envelope: object) =>
    client.call(
      TtrpcEvents.typeName,
      "Forward",
      ForwardRequestSchema,
      { envelope },
      EmptySchema,
    );
  try {
    await forward({
      timestamp: timestampFromDate(AT),
      namespace: "ns1",
      topic: "/tasks/exit",
      event: PAYLOAD,
    });
    assert.equal(forwarded.length, 1);
    const [{ timestamp, ...rest }] = forwarded;
    assert.equal(timestamp.getTime(), AT.getTime());
    assert.deepEqual(rest, {
      namespace: "ns1",
      topic: "/tasks/exit",
      event: PAYLOAD,
    });
    await assert.rejects(
      forward({ namespace: "ns1", topic: "/tasks/exit" }),
      (err) =>
        BerthError.is(err, BerthCode.InvalidArgument) &&
        err.message === "envelope must carry an event: invalid argument",
    );
    await assert.rejects(
      client.callRaw(TtrpcEvents.typeName, "Forward", Uint8Array.of(10, 5)),
      (err) =>
        BerthError.is(err, BerthCode.InvalidArgument) &&
        err.message.startsWith(
          "ttrpc: decode containerd.services.events.ttrpc.v1.ForwardRequest: ",
        ),
    );
    assert.equal(forwarded.length, 1);
  } finally {
    await client.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
