import assert from "node:assert/strict";
import { unquote } from "./_quote.ts";

Deno.test("unquote: plain text and delimiters", () => {
  assert.equal(unquote('""'), "");
  assert.equal(unquote('"a b, c"'), "a b, c");
  assert.equal(unquote('"牛🐄"'), "牛🐄");
  assert.equal(unquote(String.raw`"q\"r"`), 'q"r');
  assert.equal(unquote(String.raw`/a\/b/`), "a/b");
  assert.equal(unquote(String.raw`|a\|b|`), "a|b");
  assert.equal(unquote(String.raw`"a\\b"`), "a\\b");
});

Deno.test("unquote: Go escapes", () => {
  assert.equal(unquote(String.raw`"\a\b\f\n\r\t\v"`), "\x07\b\f\n\r\t\v");
  assert.equal(unquote(String.raw`"\x41\101\u00e9\U0001F600"`), "AAé😀");
  // \x and octal escapes are bytes of UTF-8.
  assert.equal(unquote(String.raw`"\xe7\x89\x9b\347\211\233"`), "牛牛");
  assert.equal(unquote(String.raw`"\xff"`), "\ufffd");
  assert.equal(unquote(String.raw`"\ud800"`), "\ufffd");
});

Deno.test("unquote: out-of-range escapes", () => {
  assert.equal(unquote(String.raw`"\400"`), undefined);
  assert.equal(unquote(String.raw`"\377"`), "\ufffd");
  assert.equal(unquote(String.raw`"\U00110000"`), undefined);
  assert.equal(unquote(String.raw`"\U0010ffff"`), "\u{10ffff}");
});
