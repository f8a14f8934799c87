// Compiles Go (RE2) regular expressions, as containerd's `~=` operator uses
// them, into equivalent JavaScript RegExps with the `v` flag.
//
// Go's syntax differs from JavaScript's in ways that matter for filters:
// inline flags such as `(?i)` that last until the end of the group, `\z`,
// `\Q…\E`, POSIX classes, a `{` that is literal unless it forms a repeat, a
// `]` that is literal first in a class, ASCII-only `\s`, and `.` / `^` / `$`
// that only treat `\n` as a line break. The translator parses the Go syntax,
// reports Go's errors (with Go's wording), and emits JavaScript that matches
// the same strings. Only `test` matters here, so capture groups are emitted
// as plain groups and greediness (`(?U)`, `*?`) needs no translation: it
// changes which match is found, never whether there is one.

/** Inline flags of Go regexps that change what matches. */
interface Flags {
  /** `i`: case-insensitive. */
  fold: boolean;
  /** `m`: `^` and `$` match at line breaks. */
  multiLine: boolean;
  /** `s`: `.` matches `\n`. */
  dotAll: boolean;
}

interface Group {
  /** Flags in force before the group, restored when it closes. */
  flags: Flags;
  /** Index in the output where the group starts. */
  start: number;
}

// Go's unicode.Categories. "C" is handled apart: Go's excludes unassigned
// code points, JavaScript's includes them.
const CATEGORIES = new Set(
  "Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs"
    .split(" "),
);

// ASCII classes, as pairs of (first, last) characters.
const PERL_CLASSES = new Map([
  ["d", "09"],
  ["s", "\t\n\f\r  "],
  ["w", "09AZ__az"],
]);

const POSIX_CLASSES = new Map([
  ["alnum", "09AZaz"],
  ["alpha", "AZaz"],
  ["ascii", "\x00\x7f"],
  ["blank", "\t\t  "],
  ["cntrl", "\x00\x1f\x7f\x7f"],
  ["digit", "09"],
  ["graph", "!~"],
  ["lower", "az"],
  ["print", " ~"],
  ["punct", "!/:@[`{~"],
  ["space", "\t\r  "],
  ["upper", "AZ"],
  ["word", "09AZ__az"],
  ["xdigit", "09AFaf"],
]);

const SIMPLE_ESCAPES = new Map([
  ["a", 0x07],
  ["f", 0x0c],
  ["n", 0x0a],
  ["r", 0x0d],
  ["t", 0x09],
  ["v", 0x0b],
]);

const ALNUM = /^[A-Za-z0-9]$/;
const REPEAT = /^\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}/;
const MAX_REPEAT = 1000;

function fail(problem: string, expr: string): never {
  throw new SyntaxError(`${problem}: \`${expr}\``);
}

function escapeChar(ch: number): string {
  const text = String.fromCodePoint(ch);
  return ALNUM.test(text) ? text : `\\u{${ch.toString(16)}}`;
}

function range(lo: number, hi: number): string {
  return lo === hi ? escapeChar(lo) : `${escapeChar(lo)}-${escapeChar(hi)}`;
}

// A bracketed class for ASCII ranges written as character pairs.
function asciiClass(pairs: string, negated: boolean): string {
  let body = "";
  for (let i = 0; i < pairs.length; i += 2) {
    body += range(pairs.charCodeAt(i), pairs.charCodeAt(i + 1));
  }
  return `[${negated ? "^" : ""}${body}]`;
}

function isScript(name: string): boolean {
  if (!/^[A-Za-z_]+$/.test(name)) return false;
  try {
    new RegExp(`\\p{Script=${name}}`, "v");
    return true;
  } catch {
    return false;
  }
}

class Translator {
  readonly #src: string;
  #pos = 0;
  #out: string[] = [];
  #flags: Flags = { fold: false, multiLine: false, dotAll: false };
  #groups: Group[] = [];
  // Where the item a repetition operator would apply to starts in #out, or
  // -1 when there is none (at the start, after `(` or `|`).
  #item = -1;
  #itemRepeated = false;

  constructor(src: string) {
    this.#src = src;
  }

  translate(): string {
    const src = this.#src;
    // Start of the previous token when it was a repetition operator.
    let lastRepeat = -1;
    while (this.#pos < src.length) {
      const start = this.#pos;
      let repeated = false;
      const c = src[start];
      if (c === "(") {
        if (src[start + 1] === "?") {
          this.#perlGroup();
        } else {
          this.#open();
          this.#pos++;
        }
      } else if (c === ")") {
        this.#close();
      } else if (c === "|") {
        this.#out.push("|");
        this.#item = -1;
        this.#pos++;
      } else if (c === "^" || c === "$") {
        this.#pos++;
        this.#assertion(
          this.#flags.multiLine
            ? (c === "^" ? "(?<![^\\n])" : "(?![^\\n])")
            : c,
        );
      } else if (c === ".") {
        this.#pos++;
        this.#push(
          this.#flags.dotAll ? "[\\u{0}-\\u{10ffff}]" : "[^\\n]",
          false,
        );
      } else if (c === "[") {
        this.#class();
      } else if (c === "*" || c === "+" || c === "?") {
        this.#repeat(start, 1, lastRepeat);
        repeated = true;
      } else if (c === "{" && REPEAT.test(src.slice(start))) {
        // A `{` that does not form a repeat is a literal (last branch).
        const [text, minText, comma, maxText] = REPEAT.exec(src.slice(start))!;
        const min = Number(minText);
        const max = comma ? Number(maxText ?? -1) : min;
        if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
          fail("invalid repeat count", text);
        }
        this.#repeat(start, text.length, lastRepeat);
        repeated = true;
      } else if (c === "\\") {
        this.#escape();
      } else {
        const ch = src.codePointAt(start)!;
        this.#pos += ch > 0xffff ? 2 : 1;
        this.#literal(ch);
      }
      lastRepeat = repeated ? start : -1;
    }
    if (this.#groups.length > 0) fail("missing closing )", src);
    return this.#out.join("");
  }

  // An item that repetition may apply to; case-sensitive ones follow `i`.
  #push(text: string, foldable = true): void {
    this.#item = this.#out.length;
    this.#itemRepeated = false;
    this.#out.push(foldable && this.#flags.fold ? `(?i:${text})` : text);
  }

  #literal(ch: number): void {
    this.#push(escapeChar(ch));
  }

  // Zero-width assertions are grouped: Go lets them be repeated.
  #assertion(text: string): void {
    this.#push(`(?:${text})`, false);
  }

  #open(): void {
    this.#groups.push({ flags: { ...this.#flags }, start: this.#out.length });
    this.#out.push("(?:");
    this.#item = -1;
  }

  #close(): void {
    const group = this.#groups.pop();
    if (group === undefined) fail("unexpected )", this.#src);
    this.#out.push(")");
    this.#flags = group.flags;
    this.#item = group.start;
    this.#itemRepeated = false;
    this.#pos++;
  }

  // A repetition operator of `length` characters at `start`, maybe followed
  // by `?` (non-greedy).
  #repeat(start: number, length: number, lastRepeat: number): void {
    let end = start + length;
    if (this.#src[end] === "?") end++;
    if (lastRepeat >= 0) {
      fail(
        "invalid nested repetition operator",
        this.#src.slice(lastRepeat, end),
      );
    }
    if (this.#item < 0) {
      fail(
        "missing argument to repetition operator",
        this.#src.slice(start, end),
      );
    }
    if (this.#itemRepeated) {
      // Repeating a repetition (possible in Go after an empty `(?i)`):
      // JavaScript needs a group around it.
      const inner = this.#out.splice(this.#item).join("");
      this.#out.push(`(?:${inner})`);
    }
    this.#out.push(this.#src.slice(start, end));
    this.#itemRepeated = true;
    this.#pos = end;
  }

  // `(?` starts a named group, a non-capturing group or a flag change.
  #perlGroup(): void {
    const src = this.#src;
    const start = this.#pos;
    if (src.startsWith("(?P<", start) && src.length - start > 4) {
      const end = src.indexOf(">", start);
      if (end < 0) fail("invalid named capture", src.slice(start));
      if (!/^[A-Za-z0-9_]+$/.test(src.slice(start + 4, end))) {
        fail("invalid named capture", src.slice(start, end + 1));
      }
      this.#open();
      this.#pos = end + 1;
      return;
    }
    const flags = { ...this.#flags };
    let set = true;
    let sawFlag = false;
    let i = start + 2;
    while (i < src.length) {
      const c = String.fromCodePoint(src.codePointAt(i)!);
      i += c.length;
      if (c === "i" || c === "m" || c === "s" || c === "U") {
        if (c === "i") flags.fold = set;
        if (c === "m") flags.multiLine = set;
        if (c === "s") flags.dotAll = set;
        sawFlag = true;
      } else if (c === "-" && set) {
        set = false;
        sawFlag = false;
      } else if ((c === ":" || c === ")") && (set || sawFlag)) {
        if (c === ":") this.#open();
        this.#flags = flags;
        this.#pos = i;
        return;
      } else {
        break;
      }
    }
    fail("invalid or unsupported Perl syntax", src.slice(start, i));
  }

  #escape(): void {
    const src = this.#src;
    const start = this.#pos;
    const c = src[start + 1];
    if (c === "A" || c === "z") {
      this.#pos += 2;
      this.#assertion(c === "A" ? "^" : "$");
    } else if (c === "b" || c === "B") {
      this.#pos += 2;
      this.#assertion(`\\${c}`);
    } else if (c === "C") {
      fail("invalid escape sequence", "\\C");
    } else if (c === "Q") {
      const end = src.indexOf("\\E", start + 2);
      const literal = src.slice(start + 2, end < 0 ? src.length : end);
      this.#pos = end < 0 ? src.length : end + 2;
      for (const ch of literal) this.#literal(ch.codePointAt(0)!);
    } else {
      const cls = this.#classEscape();
      if (cls !== undefined) {
        this.#push(cls);
      } else {
        this.#literal(this.#charEscape());
      }
    }
  }

  // `\d`, `\pL`, `\P{Greek}`… at the current position, as a bracketed class,
  // or undefined when there is none there.
  #classEscape(): string | undefined {
    const src = this.#src;
    const start = this.#pos;
    if (src[start] !== "\\") return undefined;
    const c = src[start + 1];
    const perl = PERL_CLASSES.get(c?.toLowerCase());
    if (perl !== undefined) {
      this.#pos += 2;
      return asciiClass(perl, c !== c.toLowerCase());
    }
    if (c !== "p" && c !== "P") return undefined;
    let negated = c === "P";
    let name: string;
    let end: number;
    if (src[start + 2] === "{") {
      const close = src.indexOf("}", start);
      if (close < 0) fail("invalid character class range", src.slice(start));
      name = src.slice(start + 3, close);
      end = close + 1;
    } else {
      const ch = src.codePointAt(start + 2);
      name = ch === undefined ? "" : String.fromCodePoint(ch);
      end = start + 2 + name.length;
    }
    if (name.startsWith("^")) {
      negated = !negated;
      name = name.slice(1);
    }
    let body: string;
    if (name === "Any") {
      body = "\\u{0}-\\u{10ffff}";
    } else if (name === "C") {
      body = "\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}";
    } else if (CATEGORIES.has(name)) {
      body = `\\p{${name}}`;
    } else if (isScript(name)) {
      body = `\\p{Script=${name}}`;
    } else {
      fail("invalid character class range", src.slice(start, end));
    }
    this.#pos = end;
    return `[${negated ? "^" : ""}${body}]`;
  }

  // A single-character escape (`\n`, `\x41`, `\101`, `\.`…); returns its
  // code point.
  #charEscape(): number {
    const src = this.#src;
    const start = this.#pos;
    if (start + 1 >= src.length) {
      fail("trailing backslash at end of expression", "");
    }
    const c = String.fromCodePoint(src.codePointAt(start + 1)!);
    let i = start + 1 + c.length;
    const invalid: () => never = () =>
      fail("invalid escape sequence", src.slice(start, i));
    const isOctal = (ch: string | undefined) =>
      ch !== undefined && ch >= "0" && ch <= "7";
    const hex = (ch: string | undefined) =>
      ch !== undefined && /^[0-9A-Fa-f]$/.test(ch) ? parseInt(ch, 16) : -1;
    const ascii = c.charCodeAt(0);
    let value: number;
    if (c.length === 1 && ascii < 0x80 && !ALNUM.test(c)) {
      // Escaped ASCII punctuation stands for itself.
      value = ascii;
    } else if (c === "0" || (c >= "1" && c <= "7" && isOctal(src[i]))) {
      // Octal: up to three digits. A lone \1-\7 would be a back-reference.
      value = Number(c);
      for (let n = 1; n < 3 && isOctal(src[i]); n++) {
        value = value * 8 + Number(src[i++]);
      }
    } else if (c === "x" && src[i] === "{") {
      i++;
      value = 0;
      let digits = 0;
      for (;;) {
        if (i >= src.length) invalid();
        const ch = src[i++];
        if (ch === "}") break;
        const digit = hex(ch);
        if (digit < 0) invalid();
        value = value * 16 + digit;
        if (value > 0x10ffff) invalid();
        digits++;
      }
      if (digits === 0) invalid();
    } else if (c === "x" && i < src.length) {
      const high = hex(src[i]);
      const low = hex(src[i + 1]);
      i = Math.min(i + 2, src.length);
      if (high < 0 || low < 0) invalid();
      value = high * 16 + low;
    } else if (SIMPLE_ESCAPES.has(c)) {
      value = SIMPLE_ESCAPES.get(c)!;
    } else {
      invalid();
    }
    this.#pos = i;
    return value;
  }

  #class(): void {
    const src = this.#src;
    const start = this.#pos;
    let i = start + 1;
    const negated = src[i] === "^";
    if (negated) i++;
    let body = "";
    // `]` right after `[` or `[^` is a literal.
    let first = true;
    while (i >= src.length || src[i] !== "]" || first) {
      first = false;
      if (src.startsWith("[:", i) && src.length - i > 2) {
        const close = src.indexOf(":]", i + 2);
        if (close >= 0) {
          const name = src.slice(i, close + 2);
          const inner = name.slice(2, -2);
          const pairs = POSIX_CLASSES.get(inner.replace(/^\^/, ""));
          if (pairs === undefined) fail("invalid character class range", name);
          body += asciiClass(pairs, inner.startsWith("^"));
          i = close + 2;
          continue;
        }
      }
      this.#pos = i;
      const cls = this.#classEscape();
      if (cls !== undefined) {
        body += cls;
        i = this.#pos;
        continue;
      }
      const lo = this.#classChar(start);
      let hi = lo;
      if (
        src[this.#pos] === "-" && this.#pos + 1 < src.length &&
        src[this.#pos + 1] !== "]"
      ) {
        this.#pos++;
        hi = this.#classChar(start);
        if (hi < lo) {
          fail("invalid character class range", src.slice(i, this.#pos));
        }
      }
      body += range(lo, hi);
      i = this.#pos;
    }
    this.#pos = i + 1;
    this.#push(`[${negated ? "^" : ""}${body}]`);
  }

  // One character of a class at the current position; `start` is where the
  // class begins, for the error when it is not closed.
  #classChar(start: number): number {
    const src = this.#src;
    if (this.#pos >= src.length) fail("missing closing ]", src.slice(start));
    if (src[this.#pos] === "\\") return this.#charEscape();
    const ch = src.codePointAt(this.#pos)!;
    this.#pos += ch > 0xffff ? 2 : 1;
    return ch;
  }
}

/**
 * Compiles a Go regular expression into a JavaScript RegExp that matches the
 * same strings. Throws a SyntaxError worded like Go's (for example
 * ``missing closing ): `(a` ``) when Go would reject the pattern.
 */
export function compileGoRegExp(pattern: string): RegExp {
  return new RegExp(new Translator(pattern).translate(), "v");
}
