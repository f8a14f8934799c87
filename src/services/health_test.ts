import assert from "node:assert/strict";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { Health, healthService } from "./health.ts";
import { routerClient } from "./_testing.ts";

Deno.test("Health.Check answers SERVING", async () => {
  const client = routerClient(Health, healthService());
  assert.equal((await client.check({})).status, ServingStatus.SERVING);
});

Deno.test("Health.Watch reports SERVING once, and nothing more before the client cancels", async () => {
  const client = routerClient(Health, healthService());
  const abort = new AbortController();
  const stream = client.watch({}, { signal: abort.signal })[
    Symbol.asyncIterator
  ]();
  const first = await stream.next();
  assert.equal(first.value?.status, ServingStatus.SERVING);
  const next = stream.next().then(
    (result) => ({ result }),
    (error) => ({ error }),
  );
  abort.abort();
  const ended = await next;
  // Nothing more was reported: the call ended by the client's cancel.
  assert.ok(!("result" in ended) || ended.result.done, JSON.stringify(ended));
});
