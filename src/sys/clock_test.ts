import assert from "node:assert/strict";
import { realtimeNanos } from "./clock.ts";

Deno.test("realtimeNanos is the wall clock with nanoseconds", () => {
  const before = BigInt(Date.now()) * 1_000_000n;
  const nanos = [realtimeNanos(), realtimeNanos(), realtimeNanos()];
  const after = BigInt(Date.now() + 1) * 1_000_000n;
  for (const n of nanos) assert.ok(before <= n && n <= after, String(n));
  assert.ok(nanos[0] <= nanos[1] && nanos[1] <= nanos[2]);
  // Not rounded to milliseconds (each has 1 in 10^6 odds to look so).
  assert.ok(nanos.some((n) => n % 1_000_000n !== 0n));
});
