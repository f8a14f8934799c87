// Tokenizer for the filter language. It reproduces the token boundaries of
// containerd 1.6's scanner, quirks included, because they decide which
// filter strings are accepted and where errors are reported.

/** Returned by {@linkcode Scanner.peek} at the end of the input. */
export const EOF = -1;
/** Returned by {@linkcode Scanner.peek} for a character that may not appear anywhere (NUL). */
export const ILLEGAL = -2;

/** What a {@linkcode Token} is. `unexpected` is a character that starts no token. */
export type TokenKind =
  | "eof"
  | "illegal"
  | "quoted"
  | "separator"
  | "operator"
  | "value"
  | "field"
  | "unexpected";

/** One token: its kind, where it starts (UTF-16 index) and its source text. */
export interface Token {
  /** What the token is. */
  kind: TokenKind;
  /** Index of the token's first character in the input. */
  pos: number;
  /** The token exactly as written, delimiters and escapes included. */
  text: string;
}

const WHITE_SPACE = /^\p{White_Space}$/u;
// Go's unicode.IsLetter/IsDigit/IsNumber/IsGraphic/IsPunct, minus spaces.
const VALUE_CHAR = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function isSpace(ch: number): boolean {
  return ch >= 0 && WHITE_SPACE.test(String.fromCodePoint(ch));
}

function isFieldChar(ch: number): boolean {
  return ch === 0x5f || // _
    (ch >= 0x30 && ch <= 0x39) || // 0-9
    (ch >= 0x41 && ch <= 0x5a) || // A-Z
    (ch >= 0x61 && ch <= 0x7a); // a-z
}

function isValueChar(ch: number): boolean {
  return ch >= 0 && ch !== 0x2c && VALUE_CHAR.test(String.fromCodePoint(ch));
}

function isOperatorChar(ch: number): boolean {
  return ch === 0x3d || ch === 0x21 || ch === 0x7e; // = ! ~
}

function isQuoteChar(ch: number): boolean {
  return ch === 0x22 || ch === 0x2f || ch === 0x7c; // " / |
}

function isSeparatorChar(ch: number): boolean {
  return ch === 0x2c || ch === 0x2e; // , .
}

function digitValue(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  if (ch >= 0x61 && ch <= 0x66) return ch - 0x61 + 10;
  if (ch >= 0x41 && ch <= 0x46) return ch - 0x41 + 10;
  return 16;
}

/**
 * Splits a filter string into tokens on demand. The parser drives it: it
 * peeks at single characters to decide what comes next and asks for a token
 * in value context right after an operator.
 */
export class Scanner {
  /** The text being scanned. */
  readonly input: string;
  /** First problem met while scanning; it explains every `illegal` token. */
  error = "";
  #start = 0;
  #end = 0;

  /** Starts scanning `input` from its beginning. */
  constructor(input: string) {
    this.input = input;
  }

  /** Index just past the last character consumed. */
  get offset(): number {
    return this.#end;
  }

  /** The next character's code point, {@linkcode EOF} or {@linkcode ILLEGAL}, without consuming it. */
  peek(): number {
    const start = this.#start;
    const end = this.#end;
    const ch = this.#read();
    this.#start = start;
    this.#end = end;
    return ch;
  }

  /** Consumes one character (a `,`, `.` or `|` the parser has peeked at). */
  skip(): void {
    this.#read();
  }

  /**
   * Reads the next token, skipping leading white space. In value context
   * (`inValue`, right after an operator) an unquoted run of printable
   * characters other than `,` is one `value` token.
   */
  scan(inValue: boolean): Token {
    let ch = this.#read();
    while (isSpace(ch)) ch = this.#read();
    const pos = this.#start;
    let kind: TokenKind;
    if (ch === EOF) {
      kind = "eof";
    } else if (ch === ILLEGAL) {
      kind = "illegal";
    } else if (isQuoteChar(ch)) {
      kind = this.#scanQuoted(ch) ? "quoted" : "illegal";
    } else if (isSeparatorChar(ch)) {
      kind = "separator";
    } else if (isOperatorChar(ch)) {
      this.#readWhile(isOperatorChar);
      kind = "operator";
    } else if (inValue) {
      this.#readWhile(isValueChar);
      kind = "value";
    } else if (isFieldChar(ch)) {
      this.#readWhile(isFieldChar);
      kind = "field";
    } else {
      kind = "unexpected";
    }
    return { kind, pos, text: this.input.slice(pos, this.#end) };
  }

  #fail(message: string): void {
    if (this.error === "") this.error = message;
  }

  #read(): number {
    if (this.#end >= this.input.length) {
      this.#start = this.input.length;
      return EOF;
    }
    const ch = this.input.codePointAt(this.#end)!;
    this.#start = this.#end;
    this.#end += ch > 0xffff ? 2 : 1;
    if (ch === 0) {
      this.#fail("unexpected null");
      return ILLEGAL;
    }
    return ch;
  }

  #readWhile(accept: (ch: number) => boolean): void {
    while (accept(this.peek())) this.#read();
  }

  // Consumes a quoted literal whose opening `quote` was just read. Returns
  // false when it is malformed; the literal then ends at its closing quote
  // when there is one, so that scanning can go on after it.
  #scanQuoted(quote: number): boolean {
    let legal = true;
    let ch = this.#read();
    while (ch !== quote) {
      if (ch === 0x0a || ch < 0) {
        this.#fail("quoted literal not terminated");
        return false;
      }
      if (ch === 0x5c) {
        const [next, ok] = this.#scanEscape(quote);
        ch = next;
        legal &&= ok;
      } else {
        ch = this.#read();
      }
    }
    return legal;
  }

  // Validates the escape after a backslash; returns the character following
  // it and whether the escape is well formed.
  #scanEscape(quote: number): [number, boolean] {
    const ch = this.#read();
    switch (ch) {
      case quote:
      case 0x5c: // \
      case 0x61: // a
      case 0x62: // b
      case 0x66: // f
      case 0x6e: // n
      case 0x72: // r
      case 0x74: // t
      case 0x76: // v
        return [this.#read(), true];
      case 0x78: // x
        return this.#scanDigits(this.#read(), 16, 2);
      case 0x75: // u
        return this.#scanDigits(this.#read(), 16, 4);
      case 0x55: // U
        return this.#scanDigits(this.#read(), 16, 8);
    }
    if (ch >= 0x30 && ch <= 0x37) return this.#scanDigits(ch, 8, 3);
    this.#fail("illegal escape sequence");
    return [ch, false];
  }

  #scanDigits(first: number, base: number, count: number): [number, boolean] {
    let ch = first;
    let left = count;
    while (left > 0 && digitValue(ch) < base) {
      ch = this.#read();
      left--;
    }
    if (left > 0) {
      this.#fail("illegal numeric escape sequence");
      return [ch, false];
    }
    return [ch, true];
  }
}
