/**
 * Identifier validation as containerd does it: ids of namespaces, containers,
 * leases, snapshots and event topic parts. An id is never used as a path
 * component before it passes {@linkcode validateIdentifier}.
 *
 * @module
 */
import { invalidArgument } from "./errors.ts";

/** Longest identifier accepted, in characters. */
export const MAX_IDENTIFIER_LENGTH = 76;

/** Alphanumeric runs joined by single `.`, `_` or `-`. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;

/** What is wrong with `id` as an identifier, or undefined when nothing. */
export function identifierProblem(id: string): string | undefined {
  if (id.length === 0) return "identifier must not be empty";
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    return `identifier ${
      JSON.stringify(id)
    } greater than maximum length (${MAX_IDENTIFIER_LENGTH} characters)`;
  }
  if (!IDENTIFIER_PATTERN.test(id)) {
    return `identifier ${
      JSON.stringify(id)
    } must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$`;
  }
  return undefined;
}

/** Throws InvalidArgument unless `id` is a valid identifier. */
export function validateIdentifier(id: string): void {
  const problem = identifierProblem(id);
  if (problem) throw invalidArgument(problem);
}

/**
 * A check made once per value: values that passed are remembered (up to
 * `max` of them). A daemon checks its namespace on every call and an
 * event's namespace and topic on every event, and sees the same few.
 */
export class CheckedOnce {
  readonly #passed = new Set<string>();
  readonly #check: (value: string) => void;
  readonly #max: number;

  /** Remembers up to `max` values that `check` did not throw for. */
  constructor(check: (value: string) => void, max = 1024) {
    this.#check = check;
    this.#max = max;
  }

  /** Throws what `check` throws for `value`, unless it passed before. */
  check(value: string): void {
    if (this.#passed.has(value)) return;
    this.#check(value);
    if (this.#passed.size < this.#max) this.#passed.add(value);
  }
}

/** Largest size of one label's key plus value, in bytes. */
export const MAX_LABEL_SIZE = 4096;

/** Throws InvalidArgument when a label's key and value are too large together. */
export function validateLabel(key: string, value: string): void {
  const size = new TextEncoder().encode(key + value).length;
  if (size > MAX_LABEL_SIZE) {
    throw invalidArgument(
      `label key and value greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${
        key.slice(0, 10)
      }`,
    );
  }
}

/** Validates every label of a record, naming `owner` in the error. */
export function validateLabels(
  owner: string,
  labels: Record<string, string>,
): void {
  for (const [key, value] of Object.entries(labels)) {
    try {
      validateLabel(key, value);
    } catch (err) {
      if (err instanceof Error) err.message = `${owner}.Labels: ${err.message}`;
      throw err;
    }
  }
}
