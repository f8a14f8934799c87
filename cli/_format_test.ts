import assert from "node:assert/strict";
import {
  columns,
  compareUTF8,
  ctrHelp,
  formatFixed,
  formatGoTime,
  formatLabels,
  formatRFC3339,
  formatRFC3339Nano,
  goJSON,
  goMap,
  goQuote,
  humanDuration,
  humanSize,
  parseLabelArgs,
  progressBytes,
  tabwrite,
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

Deno.test("formatGoTime prints like Go's time.Time", () => {
  const date = new Date("2026-11-28T09:01:02.5Z");
  assert.equal(formatGoTime(date), "2026-11-28 09:01:02.5 +0000 UTC");
  assert.equal(
    formatGoTime(date, 500000123),
    "2026-11-28 09:01:02.500000123 +0000 UTC",
  );
});

Deno.test("tabwrite pads with tabs to tab stops like Go's tabwriter", () => {
  // The example of Go's tabwriter.Writer.Init documentation.
  assert.equal(
    tabwrite("a\tb\tc\td\t.\n123\t12345\t1234567\t123456789\t.\n", {
      tabwidth: 8,
      padding: 0,
      padchar: "\t",
    }),
    "a\tb\tc\td\t\t.\n123\t12345\t1234567\t123456789\t.\n",
  );
  // ctr's `content ls` layout: minwidth 1, tabwidth 8, padding 1, tabs.
  const options = { minwidth: 1, tabwidth: 8, padding: 1, padchar: "\t" };
  assert.equal(
    tabwrite(
      "DIGEST\tSIZE\tAGE\tLABELS\nsha256:0123\t4B\t5 seconds\t-\n",
      options,
    ),
    "DIGEST\t\tSIZE\tAGE\t\tLABELS\nsha256:0123\t4B\t5 seconds\t-\n",
  );
  // A header alone still ends with its (empty) padded cells.
  assert.equal(tabwrite("REF\tSIZE\tAGE\t\n", options), "REF\tSIZE\tAGE\t\n");
});

Deno.test("tabwrite pads with spaces, and a trailing tab pads the last column", () => {
  const options = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };
  assert.equal(
    tabwrite(
      "ID\tCREATED AT\tLABELS\t\nx\t2026-01-01T00:00:00Z\t-\t\n",
      options,
    ),
    "ID CREATED AT           LABELS \nx  2026-01-01T00:00:00Z -      \n",
  );
  // Column blocks: a line without the cell splits the block.
  assert.equal(
    tabwrite("a\tb\nlonger\tc\nsingle\nx\ty\n", { padchar: " " }),
    "a      b\nlonger c\nsingle\nx y\n",
  );
});

Deno.test("humanSize prints like go-units HumanSize", () => {
  assert.equal(humanSize(0), "0B");
  assert.equal(humanSize(999), "999B");
  assert.equal(humanSize(1000), "1kB");
  assert.equal(humanSize(1536), "1.536kB");
  assert.equal(humanSize(12345n), "12.35kB");
  assert.equal(humanSize(209_715_200), "209.7MB");
  assert.equal(humanSize(999_950), "1000kB");
  // An exact tie rounds to even, as Go's %g does.
  assert.equal(humanSize(10_125), "10.12kB");
  assert.equal(humanSize(10_135), "10.13kB");
  assert.equal(humanSize(5e18), "5EB");
});

Deno.test("humanDuration prints like go-units HumanDuration", () => {
  assert.equal(humanDuration(999), "Less than a second");
  assert.equal(humanDuration(1500), "1 second");
  assert.equal(humanDuration(59_999), "59 seconds");
  assert.equal(humanDuration(60_000), "About a minute");
  assert.equal(humanDuration(119_999), "About a minute");
  assert.equal(humanDuration(120_000), "2 minutes");
  assert.equal(humanDuration(59 * 60_000), "59 minutes");
  assert.equal(humanDuration(89 * 60_000), "About an hour");
  assert.equal(humanDuration(90 * 60_000), "2 hours");
  assert.equal(humanDuration(47 * 3_600_000), "47 hours");
  assert.equal(humanDuration(48 * 3_600_000), "2 days");
  assert.equal(humanDuration(14 * 86_400_000), "2 weeks");
  assert.equal(humanDuration(60 * 86_400_000), "2 months");
  assert.equal(humanDuration(800 * 86_400_000), "2 years");
});

Deno.test("formatRFC3339 prints Go's RFC3339 layout in the local zone", () => {
  const date = new Date("2026-11-28T09:01:02.5Z");
  const text = formatRFC3339(date);
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  assert.equal(new Date(text).getTime(), date.getTime() - 500);
  if (date.getTimezoneOffset() === 0) {
    assert.equal(text, "2026-11-28T09:01:02Z");
  }
});

Deno.test("formatFixed rounds exact ties to even as Go's %f", () => {
  assert.equal(formatFixed(1.25, 1), "1.2");
  assert.equal(formatFixed(1.75, 1), "1.8");
  assert.equal(formatFixed(0.25, 1), "0.2");
  assert.equal(formatFixed(-2.25, 1), "-2.2");
  assert.equal(formatFixed(2.5, 0), "2");
  assert.equal(formatFixed(3.5, 0), "4");
  // 0.15 is a little below 0.15 as a double: not a tie.
  assert.equal(formatFixed(0.15, 1), "0.1");
  assert.equal(formatFixed(1.26, 1), "1.3");
  assert.equal(formatFixed(4, 1), "4.0");
});

Deno.test("progressBytes prints like ctr's progress.Bytes", () => {
  assert.equal(progressBytes(0), "0.0 B");
  assert.equal(progressBytes(1023), "1023.0 B");
  assert.equal(progressBytes(4096n), "4.0 KiB");
  assert.equal(progressBytes(1280), "1.2 KiB");
  assert.equal(progressBytes(1792), "1.8 KiB");
  assert.equal(progressBytes(52_428_800), "50.0 MiB");
  assert.equal(progressBytes(3 * 1024 ** 3), "3.0 GiB");
});

Deno.test("formatRFC3339Nano prints like Go's time.Time in JSON", () => {
  assert.equal(
    formatRFC3339Nano({ seconds: 1795858354n, nanos: 143000000 }),
    "2026-11-28T09:32:34.143Z",
  );
  assert.equal(
    formatRFC3339Nano({ seconds: 1795858354n, nanos: 1 }),
    "2026-11-28T09:32:34.000000001Z",
  );
  assert.equal(
    formatRFC3339Nano({ seconds: 1795858354n, nanos: 0 }),
    "2026-11-28T09:32:34Z",
  );
  assert.equal(formatRFC3339Nano(undefined), "0001-01-01T00:00:00Z");
});

Deno.test("goJSON marshals as Go's json.MarshalIndent with four spaces", () => {
  assert.equal(goJSON([]), "[]");
  assert.equal(goJSON({}), "{}");
  assert.equal(goJSON(null), "null");
  assert.equal(
    goJSON({ Kind: "Active", Parent: undefined, Options: null, L: ["a"] }),
    '{\n    "Kind": "Active",\n    "Options": null,\n    "L": [\n        "a"\n    ]\n}',
  );
  assert.equal(
    goJSON('<a&b>\n\t"\\\u0001\b\u2028é'),
    '"\\u003ca\\u0026b\\u003e\\n\\t\\"\\\\\\u0001\\u0008\\u2028é"',
  );
  assert.deepEqual(Object.keys(goMap({ b: "", a: "", "é": "", Z: "" })), [
    "Z",
    "a",
    "b",
    "é",
  ]);
  assert.ok(compareUTF8("\uffff", "\u{10000}") < 0);
});

Deno.test("goQuote quotes as Go's %q", () => {
  assert.equal(goQuote("key"), '"key"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote("tab\there\n\x00\x7f"), '"tab\\there\\n\\x00\\x7f"');
  assert.equal(goQuote("héllo ✓"), '"héllo ✓"');
  assert.equal(goQuote("\u00a0"), '"\\u00a0"');
});

Deno.test("ctrHelp lays out a subcommand's help as urfave/cli does", () => {
  assert.equal(
    ctrHelp({
      helpName: "ctr snapshots commit",
      usage: "commit an active snapshot into the provided name",
      argsUsage: "<key> <active>",
    }),
    "NAME:\n   ctr snapshots commit - commit an active snapshot into the provided name\n\n" +
      "USAGE:\n   ctr snapshots commit <key> <active>\n",
  );
  assert.equal(
    ctrHelp({
      helpName: "ctr snapshots prepare",
      usage: "prepare a snapshot from a committed snapshot",
      argsUsage: "[flags] <key> [<parent>]",
      flags: ["--target value, -t value\tmount target", "--mounts\tas JSON"],
    }),
    "NAME:\n   ctr snapshots prepare - prepare a snapshot from a committed snapshot\n\n" +
      "USAGE:\n   ctr snapshots prepare [command options] [flags] <key> [<parent>]\n\n" +
      "OPTIONS:\n   --target value, -t value  mount target\n" +
      "   --mounts                  as JSON\n   \n",
  );
});
