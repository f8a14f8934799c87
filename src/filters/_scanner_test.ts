import assert from "node:assert/strict";
import { EOF, ILLEGAL, Scanner } from "./_scanner.ts";

type Row = [kind: string, pos: number, text: string, error?: string];

// Scans all of `input` the way the parser does: value context right after
// an operator. Illegal tokens carry the scanner's error.
function tokens(input: string): Row[] {
  const scanner = new Scanner(input);
  const rows: Row[] = [];
  let previous = "";
  for (;;) {
    const { kind, pos, text } = scanner.scan(previous === "operator");
    rows.push(
      kind === "illegal" ? [kind, pos, text, scanner.error] : [kind, pos, text],
    );
    if (kind === "eof") return rows;
    previous = kind;
  }
}

Deno.test("scanner: field", () => {
  assert.deepEqual(tokens("name"), [["field", 0, "name"], ["eof", 4, ""]]);
});

Deno.test("scanner: selectors with operators and field paths", () => {
  assert.deepEqual(tokens("name==value,labels.foo=value,other.bar~=match"), [
    ["field", 0, "name"],
    ["operator", 4, "=="],
    ["value", 6, "value"],
    ["separator", 11, ","],
    ["field", 12, "labels"],
    ["separator", 18, "."],
    ["field", 19, "foo"],
    ["operator", 22, "="],
    ["value", 23, "value"],
    ["separator", 28, ","],
    ["field", 29, "other"],
    ["separator", 34, "."],
    ["field", 35, "bar"],
    ["operator", 38, "~="],
    ["value", 40, "match"],
    ["eof", 45, ""],
  ]);
});

Deno.test("scanner: operators are runs of = ! ~", () => {
  assert.deepEqual(tokens("a!=~b"), [
    ["field", 0, "a"],
    ["operator", 1, "!=~"],
    ["value", 4, "b"],
    ["eof", 5, ""],
  ]);
});

Deno.test("scanner: bare values take punctuation but stop at , and space", () => {
  assert.deepEqual(tokens(String.raw`name~=[abc]\+|x.y-z/"w",foo==a b`), [
    ["field", 0, "name"],
    ["operator", 4, "~="],
    ["value", 6, String.raw`[abc]\+|x.y-z/"w"`],
    ["separator", 23, ","],
    ["field", 24, "foo"],
    ["operator", 27, "=="],
    ["value", 29, "a"],
    // Out of value context the next word is a field.
    ["field", 31, "b"],
    ["eof", 32, ""],
  ]);
});

Deno.test("scanner: a value cannot start with a separator, operator or quote", () => {
  assert.deepEqual(tokens("input==,id!=ff"), [
    ["field", 0, "input"],
    ["operator", 5, "=="],
    ["separator", 7, ","],
    ["field", 8, "id"],
    ["operator", 10, "!="],
    ["value", 12, "ff"],
    ["eof", 14, ""],
  ]);
  assert.deepEqual(tokens("a==.b").slice(2, 3), [["separator", 3, "."]]);
  assert.deepEqual(tokens("a==!b").slice(1, 2), [["operator", 1, "==!"]]);
});

Deno.test('scanner: quoted values with / | and " delimiters', () => {
  assert.deepEqual(tokens(String.raw`input~=/foo\/bar/,id~=|a/b|,x=="q\"r"`), [
    ["field", 0, "input"],
    ["operator", 5, "~="],
    ["quoted", 7, String.raw`/foo\/bar/`],
    ["separator", 17, ","],
    ["field", 18, "id"],
    ["operator", 20, "~="],
    ["quoted", 22, "|a/b|"],
    ["separator", 27, ","],
    ["field", 28, "x"],
    ["operator", 29, "=="],
    ["quoted", 31, String.raw`"q\"r"`],
    ["eof", 37, ""],
  ]);
});

Deno.test("scanner: a quoted field leads a field path", () => {
  assert.deepEqual(tokens('"leading quote".postquote==value'), [
    ["quoted", 0, '"leading quote"'],
    ["separator", 15, "."],
    ["field", 16, "postquote"],
    ["operator", 25, "=="],
    ["value", 27, "value"],
    ["eof", 32, ""],
  ]);
});

Deno.test("scanner: escapes in quoted literals", () => {
  const ok = String
    .raw`"\a\b\f\n\r\t\v\\\" \x41 \101 \u00e9 \U0001F600"`;
  assert.deepEqual(tokens(ok), [["quoted", 0, ok], ["eof", ok.length, ""]]);
  // Each delimiter may only escape itself.
  assert.deepEqual(tokens(String.raw`"\/"`)[0], [
    "illegal",
    0,
    String.raw`"\/"`,
    "illegal escape sequence",
  ]);
  assert.deepEqual(tokens(String.raw`labels."\g"`), [
    ["field", 0, "labels"],
    ["separator", 6, "."],
    ["illegal", 7, String.raw`"\g"`, "illegal escape sequence"],
    ["eof", 11, ""],
  ]);
  assert.deepEqual(tokens(String.raw`labels."\xaz"`)[2], [
    "illegal",
    7,
    String.raw`"\xaz"`,
    "illegal numeric escape sequence",
  ]);
  assert.deepEqual(
    tokens(String.raw`"\12"`)[0][3],
    "illegal numeric escape sequence",
  );
});

Deno.test("scanner: unterminated quoted literals", () => {
  assert.deepEqual(tokens("labels.containerd.io/key==value"), [
    ["field", 0, "labels"],
    ["separator", 6, "."],
    ["field", 7, "containerd"],
    ["separator", 17, "."],
    ["field", 18, "io"],
    ["illegal", 20, "/key==value", "quoted literal not terminated"],
    ["eof", 31, ""],
  ]);
  // A newline ends the literal; scanning resumes after it.
  assert.deepEqual(tokens('labels."containerd.io\nkey"==value'), [
    ["field", 0, "labels"],
    ["separator", 6, "."],
    ["illegal", 7, '"containerd.io\n', "quoted literal not terminated"],
    ["field", 22, "key"],
    ["illegal", 25, '"==value', "quoted literal not terminated"],
    ["eof", 33, ""],
  ]);
});

Deno.test("scanner: NUL is illegal", () => {
  assert.deepEqual(tokens("foo\x00bar"), [
    ["field", 0, "foo"],
    ["illegal", 3, "\x00", "unexpected null"],
    ["field", 4, "bar"],
    ["eof", 7, ""],
  ]);
});

Deno.test("scanner: white space is skipped before tokens", () => {
  assert.deepEqual(tokens("foo = bar \u3000 "), [
    ["field", 0, "foo"],
    ["operator", 4, "="],
    ["value", 6, "bar"],
    ["eof", 12, ""],
  ]);
});

Deno.test("scanner: non-ASCII values, positions in UTF-16 units", () => {
  assert.deepEqual(tokens("name~=牛🐄,labels.moo=true"), [
    ["field", 0, "name"],
    ["operator", 4, "~="],
    ["value", 6, "牛🐄"],
    ["separator", 9, ","],
    ["field", 10, "labels"],
    ["separator", 16, "."],
    ["field", 17, "moo"],
    ["operator", 20, "="],
    ["value", 21, "true"],
    ["eof", 25, ""],
  ]);
  // Out of value context, a non-ASCII letter starts no token.
  assert.deepEqual(tokens("牛")[0], ["unexpected", 0, "牛"]);
});

Deno.test("scanner: partial input", () => {
  assert.deepEqual(tokens("interrupted="), [
    ["field", 0, "interrupted"],
    ["operator", 11, "="],
    ["eof", 12, ""],
  ]);
});

Deno.test("scanner: peek and skip", () => {
  const scanner = new Scanner("a,\x00");
  assert.equal(scanner.peek(), 0x61);
  assert.equal(scanner.peek(), 0x61);
  scanner.skip();
  assert.equal(scanner.offset, 1);
  assert.equal(scanner.peek(), 0x2c);
  scanner.skip();
  assert.equal(scanner.peek(), ILLEGAL);
  assert.equal(scanner.error, "unexpected null");
  scanner.skip();
  assert.equal(scanner.peek(), EOF);
});
