import assert from "node:assert/strict";
import { compileGoRegExp } from "./_regexp.ts";

// [pattern, strings it matches, strings it does not]
const MATCHING: [string, string[], string[]][] = [
  ["[abc]+", ["xaz", "too complex, yo"], ["xyz", ""]],
  ["^docker\\.io/", ["docker.io/library/alpine"], [
    "dockerxio/",
    "a/docker.io/",
  ]],
  ["foo|bar", ["bar"], ["baz"]],
  ["", ["", "anything"], []],
  // Inline flags last until the end of the group, across `|`.
  ["(?i)foo", ["FoO"], ["fo"]],
  ["a(?i)b|c", ["aB", "C"], ["AB"]],
  ["(?i:a)b", ["Ab"], ["AB"]],
  ["(?i)a(?-i)b", ["Ab"], ["AB"]],
  ["((?i)a)b", ["Ab"], ["AB"]],
  ["(?i)[a-c]\\w", ["B_"], ["D_"]],
  // `.` excludes only \n; `(?s)` includes it.
  ["^a.b$", ["a\rb", "a\u2028b"], ["a\nb"]],
  ["(?s)^a.b$", ["a\nb"], []],
  // ^ and $ are text boundaries, or (?m) line boundaries at \n only.
  ["^b$", ["b"], ["a\nb"]],
  ["(?m)^b$", ["a\nb\nc"], ["a\rb"]],
  ["\\Aa\\z", ["a"], ["a\n"]],
  ["^*a", ["a"], []],
  // Go's \s, \d, \w are ASCII.
  ["^\\s$", ["\t", "\n", "\f", "\r", " "], ["\v", "\u00a0", "\u3000"]],
  ["^\\S\\D\\W$", ["\u3000x-"], []],
  ["^\\w+$", ["a_Z9"], ["é"]],
  ["\\bfoo\\b", ["a foo."], ["foobar"]],
  ["x\\B", ["xy"], ["x"]],
  // Classes: a leading ] is literal, [:posix:] groups, nested escapes.
  ["^[]a]+$", ["]a]"], ["b"]],
  ["^[^]a]$", ["b"], ["]"]],
  ["^[[:alpha:][:digit:]]+$", ["abc123"], ["a-b"]],
  ["^[[:^space:]]+$", ["ab"], ["a b"]],
  ["^[\\d\\s-]+$", ["1 -2"], ["a"]],
  ["^[a-]$", ["-"], ["b"]],
  ["^[\\x41-\\x{43}]$", ["B"], ["D"]],
  ["^[^\\n]$", ["a"], ["\n"]],
  ["[[:word:]]", ["_"], ["-"]],
  // Unicode classes.
  ["^\\pL+$", ["Éa牛"], ["1"]],
  ["^\\p{Greek}+$", ["αβ"], ["a"]],
  ["^\\P{L}$", ["1"], ["a"]],
  ["^\\p{^L}$", ["1"], ["a"]],
  ["^\\p{Any}$", ["\n"], [""]],
  ["^[\\p{Lu}\\d]+$", ["A1"], ["a"]],
  // Literal `{`, `}` and `]` unless they form a repeat / class.
  ["a{,2}", ["a{,2}"], ["aa"]],
  ["a{01}", ["a{01}"], ["a"]],
  ["^a{2}$", ["aa"], ["a"]],
  ["^a{2,}?$", ["aaa"], ["a"]],
  ["^(ab){1,2}$", ["abab"], ["ababab"]],
  ["}]", ["}]"], []],
  // Escapes.
  ["\\Qa.b*\\E+", ["a.b**"], ["axbb"]],
  ["\\Qa.b", ["a.b"], ["axb"]],
  ["^\\x{1F600}\\x41\\101\\0\\n\\t\\.\\_\\-$", ["😀AA\0\n\t._-"], []],
  ["\\/", ["a/b"], []],
  // Named groups and `(?flags:…)` groups.
  ["^(?P<name>a+)(?:b)$", ["aab"], ["b"]],
  ["^(?)a$", ["a"], []],
  // Greediness cannot change whether a match exists.
  ["(?U)^a+?b*$", ["aabb"], []],
  // A repetition may follow an empty flag group after another repetition.
  ["^a*(?i)*$", ["aaa"], ["b"]],
  ["^a*\\Q\\E+$", ["aaa"], []],
];

Deno.test("regexp: Go syntax matches like Go", async (t) => {
  for (const [pattern, yes, no] of MATCHING) {
    await t.step(pattern, () => {
      const re = compileGoRegExp(pattern);
      for (const s of yes) {
        assert.ok(re.test(s), `${pattern} matches ${JSON.stringify(s)}`);
      }
      for (const s of no) {
        assert.ok(!re.test(s), `${pattern} rejects ${JSON.stringify(s)}`);
      }
    });
  }
});

const ERRORS: [string, string][] = [
  ["(abc", "missing closing ): `(abc`"],
  ["abc)", "unexpected ): `abc)`"],
  ["[abc", "missing closing ]: `[abc`"],
  ["[]", "missing closing ]: `[]`"],
  ["[z-a]", "invalid character class range: `z-a`"],
  ["[[:foo:]]", "invalid character class range: `[:foo:]`"],
  ["\\p{Foo}", "invalid character class range: `\\p{Foo}`"],
  ["\\p{L", "invalid character class range: `\\p{L`"],
  ["\\p", "invalid character class range: `\\p`"],
  ["*a", "missing argument to repetition operator: `*`"],
  ["a|+?", "missing argument to repetition operator: `+?`"],
  ["(?i){2}", "missing argument to repetition operator: `{2}`"],
  ["a**", "invalid nested repetition operator: `**`"],
  ["a{2}*?", "invalid nested repetition operator: `{2}*?`"],
  ["a{1001}", "invalid repeat count: `{1001}`"],
  ["a{3,2}", "invalid repeat count: `{3,2}`"],
  ["a\\", "trailing backslash at end of expression: ``"],
  ["\\1", "invalid escape sequence: `\\1`"],
  ["\\8", "invalid escape sequence: `\\8`"],
  ["\\Z", "invalid escape sequence: `\\Z`"],
  ["\\C", "invalid escape sequence: `\\C`"],
  ["\\xg1", "invalid escape sequence: `\\xg1`"],
  ["\\x", "invalid escape sequence: `\\x`"],
  ["\\x{}", "invalid escape sequence: `\\x{}`"],
  ["\\x{110000}", "invalid escape sequence: `\\x{110000`"],
  ["[\\b]", "invalid escape sequence: `\\b`"],
  ["[a-\\d]", "invalid escape sequence: `\\d`"],
  ["(?=a)", "invalid or unsupported Perl syntax: `(?=`"],
  ["(?<n>a)", "invalid or unsupported Perl syntax: `(?<`"],
  ["(?P=n)", "invalid or unsupported Perl syntax: `(?P`"],
  ["(?i-)", "invalid or unsupported Perl syntax: `(?i-)`"],
  ["(?i", "invalid or unsupported Perl syntax: `(?i`"],
  ["(?P<n!>a)", "invalid named capture: `(?P<n!>`"],
  ["(?P<n", "invalid named capture: `(?P<n`"],
];

Deno.test("regexp: Go's syntax errors", async (t) => {
  for (const [pattern, message] of ERRORS) {
    await t.step(pattern, () => {
      assert.throws(() => compileGoRegExp(pattern), {
        name: "SyntaxError",
        message,
      });
    });
  }
});
