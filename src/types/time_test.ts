import assert from "node:assert/strict";
import {
  dateFromNanos,
  dateFromSecondsAndNanos,
  formatRfc3339Nano,
  NanoDate,
  nanosOf,
  parseRfc3339Nano,
  secondsAndNanos,
} from "./time.ts";

Deno.test("a NanoDate is a Date that keeps its nanoseconds", () => {
  const date = dateFromNanos("1765065600123456789");
  assert.ok(date instanceof Date);
  assert.equal(date.getTime(), 1765065600123);
  assert.equal(nanosOf(date), 1765065600123456789n);
  assert.equal(nanosOf(new Date(1765065600123)), 1765065600123000000n);
  assert.deepEqual(secondsAndNanos(date), {
    seconds: 1765065600n,
    nanos: 123456789,
  });
  assert.equal(
    nanosOf(dateFromSecondsAndNanos({ seconds: 1765065600n, nanos: 5 })),
    1765065600000000005n,
  );
  // Before the epoch too.
  assert.deepEqual(secondsAndNanos(new NanoDate(-1n)), {
    seconds: -1n,
    nanos: 999999999,
  });
});

Deno.test("RFC 3339 with nanoseconds, as Go writes it", () => {
  const date = dateFromNanos(1765065600123456789n);
  assert.equal(formatRfc3339Nano(date), "2025-12-07T00:00:00.123456789Z");
  assert.equal(
    formatRfc3339Nano(dateFromNanos(1765065600120000000n)),
    "2025-12-07T00:00:00.12Z",
  );
  assert.equal(
    formatRfc3339Nano(dateFromNanos(1765065600000000000n)),
    "2025-12-07T00:00:00Z",
  );
  assert.equal(
    nanosOf(parseRfc3339Nano("2025-12-07T00:00:00.123456789Z")!),
    1765065600123456789n,
  );
  assert.equal(
    nanosOf(parseRfc3339Nano("2025-12-07T01:00:00.5+01:00")!),
    1765065600500000000n,
  );
  assert.equal(parseRfc3339Nano("yesterday"), undefined);
});
