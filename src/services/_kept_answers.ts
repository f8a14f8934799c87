/**
 * Answers a service gives again unchanged until what they describe
 * changes (a container's `Get` answer, asked for twice by every
 * `ctr tasks exec`), each encoded once.
 *
 * A kept answer is shared by every call that gets it: nothing may change
 * it (the Connect/JSON interceptor rewrites a copy). Its encoding is kept
 * with it (a `WeakMap`, so it goes when the answer goes), for the gRPC
 * server's {@linkcode encodeAnswer}.
 *
 * @module
 */
import { type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";

/**
 * Kept answers' encodings; null until the first is made. An answer not in
 * here is not kept, and is encoded each time.
 */
const encodings = new WeakMap<Message, Uint8Array | null>();

/** The encoding of `message`: made once for a kept answer. */
export function encodeAnswer(
  schema: DescMessage,
  message: Message,
): Uint8Array {
  const kept = encodings.get(message);
  if (kept) return kept;
  const bytes = toBinary(schema, message);
  if (kept === null) encodings.set(message, bytes);
  return bytes;
}

/** Options for {@linkcode KeptAnswers}. */
export interface KeptAnswersOptions {
  /** The most answers kept; the oldest kept goes first. */
  max: number;
}

/** Answers by key, until they are forgotten (what they describe changed). */
export class KeptAnswers<T extends Message> {
  readonly #answers = new Map<string, T>();
  readonly #max: number;

  /** An empty set of answers. */
  constructor(options: KeptAnswersOptions) {
    this.#max = options.max;
  }

  /** The answer kept under `key`, if any. */
  get(key: string): T | undefined {
    return this.#answers.get(key);
  }

  /** Keeps `answer` under `key`; from now on nothing may change it. */
  keep(key: string, answer: T): T {
    if (this.#answers.size >= this.#max && !this.#answers.has(key)) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
    this.#answers.set(key, answer);
    encodings.set(answer, null);
    return answer;
  }

  /** Forgets the answer under `key`: what it describes changed. */
  forget(key: string): void {
    this.#answers.delete(key);
  }
}
