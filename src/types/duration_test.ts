import assert from "node:assert/strict";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration reads Go durations", () => {
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("0"), 0);
  assert.throws(() => parseDuration("10"), TypeError);
  assert.throws(() => parseDuration("5sx"), TypeError);
});
