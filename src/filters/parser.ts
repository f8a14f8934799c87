/**
 * The parser of containerd's filter language, as in containerd 1.6:
 *
 * ```
 * filter    := alternate ("|" alternate)*
 * alternate := selector ("," selector)*
 * selector  := fieldpath [operator value]
 * fieldpath := field ("." field)*
 * field     := quoted | [A-Za-z0-9_]+
 * operator  := "==" | "!=" | "~="
 * value     := quoted | [^\s,]+
 * quoted    := '"' Go-escaped text '"'   (after "~=" also /…/ and |…|)
 * ```
 *
 * A selector without operator tests that the field is present. `,` joins
 * selectors with AND. `~=` matches a Go (RE2) regular expression anywhere in
 * the value. White space may precede tokens, but not a `,` or the end.
 *
 * `|` as OR is an extension: containerd 1.6 has no OR inside one string (it
 * ORs the several strings of a request). To accept everything 1.6 accepts
 * with the same meaning, `|` is OR only where 1.6 rejects it: after a
 * field path or a quoted value. After an unquoted value it is part of the
 * value, as in 1.6 (`name~=a|b` is the regexp `a|b`); write
 * `name=="a"|name=="b"` for OR.
 *
 * @module
 */

import { compileGoRegExp } from "./_regexp.ts";
import { unquote } from "./_quote.ts";
import { EOF, ILLEGAL, Scanner, type Token } from "./_scanner.ts";
import type { Adaptor, Filter } from "./filter.ts";

/**
 * Thrown for a malformed filter string. The message has containerd's shape,
 * pointing at the offending character:
 * ``filters: parse error: [labels. >|?|< foo]: expected field or quoted``.
 */
export class FilterSyntaxError extends SyntaxError {
  /** The filter string that failed to parse. */
  readonly input: string;
  /** Index (UTF-16) of the problem in {@linkcode input}; its length at the end. */
  readonly position: number;

  /**
   * @param input The filter string.
   * @param position Where the problem is.
   * @param problem What is wrong there.
   */
  constructor(input: string, position: number, problem: string) {
    let where = input;
    if (position < input.length) {
      const ch = String.fromCodePoint(input.codePointAt(position)!);
      where = `${input.slice(0, position)} >|${ch}|< ${
        input.slice(position + ch.length)
      }`;
    }
    super(`filters: parse error: [${where}]: ${problem}`);
    this.name = "FilterSyntaxError";
    this.input = input;
    this.position = position;
  }
}

const COMMA = 0x2c;
const DOT = 0x2e;
const PIPE = 0x7c;

const always: Filter = { match: () => true };

function anyOf(filters: readonly Filter[]): Filter {
  return { match: (adaptor) => filters.some((f) => f.match(adaptor)) };
}

function allOf(filters: readonly Filter[]): Filter {
  return { match: (adaptor) => filters.every((f) => f.match(adaptor)) };
}

class Parser {
  readonly #input: string;
  readonly #scanner: Scanner;

  constructor(input: string) {
    this.#input = input;
    this.#scanner = new Scanner(input);
  }

  parse(): Filter {
    const alternates = [[this.#selector()]];
    for (;;) {
      const ch = this.#scanner.peek();
      if (ch === EOF) break;
      if (ch === ILLEGAL) {
        throw this.#error(this.#scanner.offset, this.#scanner.error);
      }
      if (ch !== COMMA && ch !== PIPE) {
        throw this.#error(
          this.#scanner.offset,
          `unexpected input: ${String.fromCodePoint(ch)}`,
        );
      }
      this.#scanner.skip();
      if (ch === PIPE) alternates.push([]);
      alternates.at(-1)!.push(this.#selector());
    }
    return anyOf(alternates.map(allOf));
  }

  #error(position: number, problem: string): FilterSyntaxError {
    return new FilterSyntaxError(this.#input, position, problem);
  }

  // The error for a token that is not what was expected.
  #unexpected(token: Token, expected: string): FilterSyntaxError {
    return this.#error(
      token.pos,
      token.kind === "illegal" ? this.#scanner.error : expected,
    );
  }

  #selector(): Filter {
    const path = this.#fieldpath();
    const next = this.#scanner.peek();
    if (next === EOF || next === COMMA || next === PIPE) {
      return { match: (adaptor) => adaptor.field(path) !== undefined };
    }
    const op = this.#scanner.scan(false);
    if (op.kind !== "operator") {
      throw this.#unexpected(op, 'expected an operator ("=="|"!="|"~=")');
    }
    if (op.text !== "==" && op.text !== "!=" && op.text !== "~=") {
      throw this.#error(
        op.pos,
        `unsupported operator ${JSON.stringify(op.text)}`,
      );
    }
    const token = this.#scanner.scan(true);
    let value: string;
    if (token.kind === "value") {
      value = token.text;
    } else if (token.kind === "quoted") {
      value = this.#unquote(token, op.text === "~=");
    } else {
      throw this.#unexpected(token, "expected value or quoted");
    }
    const field = (adaptor: Adaptor) => adaptor.field(path);
    switch (op.text) {
      case "==":
        return { match: (adaptor) => field(adaptor) === value };
      case "!=":
        return { match: (adaptor) => (field(adaptor) ?? "") !== value };
    }
    let re: RegExp;
    try {
      re = compileGoRegExp(value);
    } catch (e) {
      throw this.#error(
        token.pos,
        `invalid regular expression ${JSON.stringify(value)}: ${
          (e as Error).message
        }`,
      );
    }
    return { match: (adaptor) => re.test(field(adaptor) ?? "") };
  }

  #fieldpath(): string[] {
    const path = [this.#field()];
    while (this.#scanner.peek() === DOT) {
      this.#scanner.skip();
      path.push(this.#field());
    }
    return path;
  }

  #field(): string {
    const token = this.#scanner.scan(false);
    if (token.kind === "field") return token.text;
    if (token.kind === "quoted") return this.#unquote(token, false);
    throw this.#unexpected(token, "expected field or quoted");
  }

  #unquote(token: Token, allowRegExpQuotes: boolean): string {
    if (!allowRegExpQuotes && !token.text.startsWith('"')) {
      throw this.#error(token.pos, "invalid quote encountered");
    }
    const text = unquote(token.text);
    if (text === undefined) {
      throw this.#error(token.pos, "unquoting failed: quote syntax error");
    }
    return text;
  }
}

/**
 * Parses one filter string. The empty string matches everything.
 *
 * @example Usage
 * ```ts
 * import { fieldsAdaptor, parseFilter } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const filter = parseFilter('name~=^docker\\.io/,labels."com.example.x"');
 * const image = fieldsAdaptor({
 *   name: "docker.io/library/alpine:3",
 *   labels: { "com.example.x": "1" },
 * });
 * assert.ok(filter.match(image));
 * ```
 *
 * @param input The filter, e.g. `name==foo,labels.bar`.
 * @returns The parsed filter.
 * @throws {FilterSyntaxError} When `input` is malformed or holds an invalid
 * regular expression.
 */
export function parseFilter(input: string): Filter {
  return input === "" ? always : new Parser(input).parse();
}

/**
 * Parses the filters of a List or Subscribe request: an object is selected
 * when any of them matches it, and every object is when there are none.
 *
 * @example Usage
 * ```ts
 * import { fieldsAdaptor, parseFilters } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const filter = parseFilters(["name==a", "name==b"]);
 * assert.ok(filter.match(fieldsAdaptor({ name: "b" })));
 * assert.ok(parseFilters([]).match(fieldsAdaptor({})));
 * ```
 *
 * @param inputs The filter strings.
 * @returns Their disjunction.
 * @throws {FilterSyntaxError} For the first malformed string.
 */
export function parseFilters(inputs: readonly string[]): Filter {
  return inputs.length === 0 ? always : anyOf(inputs.map(parseFilter));
}
