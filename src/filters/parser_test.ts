import assert from "node:assert/strict";
import {
  type Adaptor,
  fieldsAdaptor,
  FilterSyntaxError,
  parseFilter,
  parseFilters,
} from "./mod.ts";

interface Entry {
  name: string;
  other?: string;
  labels?: Record<string, string>;
}

// Names a little like containerd's own filter tests, with a few more.
const CORPUS: Entry[] = [
  { name: "foo", labels: { foo: "true" } },
  { name: "bar" },
  { name: "foo", labels: { foo: "present", "more complex label": "present" } },
  { name: "bar", labels: { bar: "true" } },
  { name: "fooer", labels: { 'more complex label with \\ and "': "present" } },
  {
    name: "fooer",
    labels: { 'more complex label with \\ and ".post': "present" },
  },
  { name: "baz", other: "too complex, yo" },
  { name: "bazo", other: "abc" },
  { name: "compound", labels: { foo: "omg_asdf.asdf-qwer" } },
  { name: "", labels: { "com.example/key": "a|b", "": "empty key" } },
];

function adapt(entry: Entry): Adaptor {
  return fieldsAdaptor({
    name: entry.name || undefined,
    other: entry.other || undefined,
    labels: entry.labels,
  });
}

// Indexes of the corpus entries `filter` selects.
function select(filter: string | string[]): number[] {
  const parsed = typeof filter === "string"
    ? parseFilter(filter)
    : parseFilters(filter);
  return CORPUS.flatMap((entry, i) => parsed.match(adapt(entry)) ? [i] : []);
}

const ALL = CORPUS.map((_, i) => i);

const SELECTIONS: [filter: string, selected: number[]][] = [
  ["", ALL],
  ["name", [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ["labels.foo", [0, 2, 8]],
  ["labels.foo,name", [0, 2, 8]],
  ["labels.foo==true", [0]],
  ["labels.foo==omg_asdf.asdf-qwer", [8]],
  ["name==bar", [1, 3]],
  // An absent field compares as "" for != and ~=.
  ["name!=bar", [0, 2, 4, 5, 6, 7, 8, 9]],
  ['name!=""', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ["name~=^$", [9]],
  ['name==""', []],
  ["name==bar,labels.bar", [3]],
  ["name==bar,labels.bar==true", [3]],
  ["name==bar,labels.bar==wrong", []],
  ['other=="too complex, yo"', [6]],
  ["other~=[abc]+,name!=foo", [6, 7]],
  ["other~=/[abc]+/,name!=foo", [6, 7]],
  ["other~=|[abc]{1,2}|,name!=foo", [6, 7]],
  ['other~="^a"', [7]],
  // Valid, matches nothing.
  ['other~=/[abc]{0,1}"\\//,name!=foo', []],
  ['name==foo,labels."more complex label"', [2]],
  ['labels."more complex label with \\\\ and \\""==present', [4]],
  ['labels."more complex label with \\\\ and \\"".post==present', [5]],
  // Labels keys with dots or slashes: join the path, or quote the key.
  ['labels."com.example/key"', [9]],
  ['labels.""=="empty key"', [9]],
  // Bare values keep `|`, as in containerd.
  ['labels."com.example/key"==a|b', [9]],
  // Regexps are Go's, unanchored.
  ["name~=(?i)^FOO", [0, 2, 4, 5]],
  ["name~=^ba[rz]$", [1, 3, 6]],
  ["name~=o{2}", [0, 2, 4, 5]],
  ["name~=^(foo|bar)$", [0, 1, 2, 3]],
  // White space before tokens.
  ["  name == bar", [1, 3]],
  // Escapes in quoted values are Go's; \x bytes form UTF-8.
  ['name=="\\x66\\157\\u006f"', [0, 2]],
  ['name~="^\\x66\\U0000006f+$"', [0, 2]],
  // Non-ASCII values.
  ["name!=牛", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  // OR (extension): after a field path or a quoted value.
  ['name=="bar"|name=="baz"', [1, 3, 6]],
  ["labels.bar|labels.foo,name==foo", [0, 2, 3]],
  ["name==bar,labels.bar|other", [3, 6, 7]],
  ["other~=/^a/|labels.foo==true", [0, 7]],
  ['labels."more complex label"|other~=|^t|', [2, 6]],
];

Deno.test("parseFilter: selections", async (t) => {
  for (const [filter, selected] of SELECTIONS) {
    await t.step(filter || "(empty)", () => {
      assert.deepEqual(select(filter), selected);
    });
  }
});

Deno.test("parseFilters: strings are ORed; none selects all", () => {
  assert.deepEqual(select(["name==bar", "labels.foo==true"]), [0, 1, 3]);
  assert.deepEqual(select(["name==nothing"]), []);
  assert.deepEqual(select([]), ALL);
  assert.deepEqual(select(["name==nothing", ""]), ALL);
  assert.throws(() => parseFilters(["name==bar", "name=="]), FilterSyntaxError);
});

Deno.test("parseFilter: the adaptor sees the unquoted field path", () => {
  const seen: (readonly string[])[] = [];
  const filter = parseFilters([
    'labels."a.b".c',
    'x."q\\"".y==1',
    '_9."\\u00e9"',
    '"lead"~=3',
  ]);
  filter.match({
    field(path) {
      seen.push(path);
      return undefined;
    },
  });
  assert.deepEqual(seen, [
    ["labels", "a.b", "c"],
    ["x", 'q"', "y"],
    ["_9", "é"],
    ["lead"],
  ]);
});

const ERRORS: [filter: string, message: string][] = [
  [
    "labels.|foo|==omg_asdf.asdf-qwer",
    "filters: parse error: [labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered",
  ],
  [
    'labels.?"more complex label with \\\\ and \\"".post==present',
    'filters: parse error: [labels. >|?|< "more complex label with \\\\ and \\"".post==present]: expected field or quoted',
  ],
  [
    "name==foo,",
    "filters: parse error: [name==foo,]: expected field or quoted",
  ],
  ["labels.", "filters: parse error: [labels.]: expected field or quoted"],
  [
    "image~=,id?=?fbaq",
    "filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted",
  ],
  [
    "labels.ns/key==value",
    "filters: parse error: [labels.ns >|/|< key==value]: quoted literal not terminated",
  ],
  [
    "labels.key==/value",
    "filters: parse error: [labels.key== >|/|< value]: quoted literal not terminated",
  ],
  // / and | quote only regexps.
  [
    "name==/foo/",
    "filters: parse error: [name== >|/|< foo/]: invalid quote encountered",
  ],
  [
    "name=foo",
    'filters: parse error: [name >|=|< foo]: unsupported operator "="',
  ],
  [
    "name===foo",
    'filters: parse error: [name >|=|< ==foo]: unsupported operator "==="',
  ],
  [
    "name foo",
    'filters: parse error: [name  >|f|< oo]: expected an operator ("=="|"!="|"~=")',
  ],
  // White space may not precede `,` or the end.
  [
    "name ,foo",
    'filters: parse error: [name  >|,|< foo]: expected an operator ("=="|"!="|"~=")',
  ],
  [
    "name==foo ",
    "filters: parse error: [name==foo >| |< ]: unexpected input:  ",
  ],
  [
    'name=="foo"bar',
    'filters: parse error: [name=="foo" >|b|< ar]: unexpected input: b',
  ],
  [" ", "filters: parse error: [ ]: expected field or quoted"],
  [",", "filters: parse error: [ >|,|< ]: expected field or quoted"],
  // `|` only separates where a selector may end.
  ["a|", "filters: parse error: [a|]: expected field or quoted"],
  ["|a", "filters: parse error: [ >|||< a]: quoted literal not terminated"],
  ["|a|", "filters: parse error: [ >|||< a|]: invalid quote encountered"],
  [
    "name==!foo",
    'filters: parse error: [name >|=|< =!foo]: unsupported operator "==!"',
  ],
  [
    "name==.foo",
    "filters: parse error: [name== >|.|< foo]: expected value or quoted",
  ],
  [
    'labels."\\g"',
    'filters: parse error: [labels. >|"|< \\g"]: illegal escape sequence',
  ],
  [
    'name=="\\400"',
    'filters: parse error: [name== >|"|< \\400"]: unquoting failed: quote syntax error',
  ],
  [
    'name=="\\U00110000"',
    'filters: parse error: [name== >|"|< \\U00110000"]: unquoting failed: quote syntax error',
  ],
  [
    "name==\x00",
    "filters: parse error: [name== >|\x00|< ]: unexpected null",
  ],
  [
    "name==a\x00",
    "filters: parse error: [name==a >|\x00|< ]: unexpected null",
  ],
  [
    "na\x00me",
    "filters: parse error: [na >|\x00|< me]: unexpected null",
  ],
  [
    "牛==1",
    "filters: parse error: [ >|牛|< ==1]: expected field or quoted",
  ],
  [
    "a==b,🐄",
    "filters: parse error: [a==b, >|🐄|< ]: expected field or quoted",
  ],
  // Regexps are checked when parsing.
  [
    "name~=(abc",
    'filters: parse error: [name~= >|(|< abc]: invalid regular expression "(abc": missing closing ): `(abc`',
  ],
  [
    "name~=/a**/",
    'filters: parse error: [name~= >|/|< a**/]: invalid regular expression "a**": invalid nested repetition operator: `**`',
  ],
  // containerd's scanner rejects \d inside a quoted literal: it must be \\d.
  [
    "name~=/\\d/",
    "filters: parse error: [name~= >|/|< \\d/]: illegal escape sequence",
  ],
];

Deno.test("parseFilter: syntax errors", async (t) => {
  for (const [filter, message] of ERRORS) {
    await t.step(JSON.stringify(filter), () => {
      assert.throws(() => parseFilter(filter), (e) => {
        assert.ok(e instanceof FilterSyntaxError);
        assert.ok(e instanceof SyntaxError);
        assert.equal(e.name, "FilterSyntaxError");
        assert.equal(e.input, filter);
        assert.equal(e.message, message);
        return true;
      });
    });
  }
});

Deno.test("FilterSyntaxError: position", () => {
  assert.throws(
    () => parseFilter("labels.?x"),
    (e) => e instanceof FilterSyntaxError && e.position === 7,
  );
  const atEnd = new FilterSyntaxError("a==", 3, "expected value or quoted");
  assert.equal(atEnd.position, 3);
  assert.equal(
    atEnd.message,
    "filters: parse error: [a==]: expected value or quoted",
  );
});

Deno.test("parseFilter: quoted regexps unescape their delimiter", () => {
  const matches = (filter: string, name: string) =>
    parseFilter(filter).match(fieldsAdaptor({ name }));
  assert.ok(matches("name~=/^a\\/b$/", "a/b"));
  assert.ok(matches("name~=|^a\\|b$|", "a|b"));
  assert.ok(matches("name~=|^a/b$|", "a/b"));
  assert.ok(matches('name~=/^a"b$/', 'a"b'));
  assert.ok(matches("name~=/\\\\d/", "7"));
  assert.ok(!matches("name~=/\\\\d/", "x"));
  assert.ok(matches("name~=\\d", "7"));
});
