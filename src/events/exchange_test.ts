import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { Exchange } from "./exchange.ts";

const payload = { typeUrl: "t", value: new Uint8Array() };

Deno.test("close() ends each subscription with Unavailable after the events queued for it, and refuses new ones", async () => {
  const exchange = new Exchange();
  const topics: string[] = [];
  const reading = (async () => {
    for await (
      const envelope of exchange.subscribe([], new AbortController().signal)
    ) {
      topics.push(envelope.topic);
    }
  })();
  exchange.publish("default", "/test/1", payload);
  exchange.publish("default", "/test/2", payload);
  exchange.close();
  await assert.rejects(
    reading,
    (err) => err instanceof BerthError && err.code === Code.Unavailable,
  );
  assert.deepEqual(topics, ["/test/1", "/test/2"]);
  assert.throws(
    () => exchange.subscribe([], new AbortController().signal),
    (err) => err instanceof BerthError && err.code === Code.Unavailable,
  );
});
