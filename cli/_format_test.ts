import assert from "node:assert/strict";
import {
  columns,
  formatGoTime,
  formatLabels,
  parseDuration,
  parseLabelArgs,
} from "./_format.ts";

Deno.test("columns aligns like a tabwriter", () => {
  assert.equal(
    columns([["NAME", "LABELS"], ["default", ""], ["k8s.io", "a=b"]]),
    "NAME    LABELS\ndefault\nk8s.io  a=b",
  );
});

Deno.test("label arguments and formatting", () => {
  assert.deepEqual(parseLabelArgs(["a=1", "b=", "c", "d=x=y"]), {
    a: "1",
    b: "",
    c: "",
    d: "x=y",
  });
  assert.equal(formatLabels({ b: "2", a: "1" }), "a=1,b=2");
});

Deno.test("parseDuration reads Go durations", () => {
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("0"), 0);
  assert.throws(() => parseDuration("10"), TypeError);
  assert.throws(() => parseDuration("5sx"), TypeError);
});

Deno.test("formatGoTime prints like Go's time.Time", () => {
  const date = new Date("2026-11-28T09:01:02.5Z");
  assert.equal(formatGoTime(date), "2026-11-28 09:01:02.5 +0000 UTC");
  assert.equal(
    formatGoTime(date, 500000123),
    "2026-11-28 09:01:02.500000123 +0000 UTC",
  );
});
