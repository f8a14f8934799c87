/**
 * Size and digest checks on bytes as they stream: more bytes than the
 * descriptor says fail at once, fewer or a wrong digest at the end.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { validateDigest } from "../content/digest.ts";
import type { Descriptor } from "../types/mod.ts";
import { BerthError, Code } from "../types/mod.ts";

/** Counts and hashes bytes of one descriptor. */
export class Verifier {
  readonly #expected: Pick<Descriptor, "digest" | "size">;
  readonly #subject: string;
  readonly #hash: Hash | undefined;
  #received: number;

  /**
   * Checks bytes of `expected`, named `subject` in errors. With `offset`,
   * the first `offset` bytes are taken as already seen: only the size is
   * checked then, since the digest needs every byte.
   */
  constructor(
    expected: Pick<Descriptor, "digest" | "size">,
    subject: string,
    offset = 0,
    digest = true,
  ) {
    validateDigest(expected.digest);
    this.#expected = expected;
    this.#subject = subject;
    this.#received = offset;
    this.#hash = digest && offset === 0 ? createHash("sha256") : undefined;
  }

  /** Bytes seen so far (with the starting offset). */
  get received(): number {
    return this.#received;
  }

  /** Takes in a chunk; throws when it goes past the expected size. */
  update(chunk: Uint8Array): void {
    this.#received += chunk.byteLength;
    if (this.#received > this.#expected.size) {
      throw new BerthError(
        Code.FailedPrecondition,
        `${this.#subject}: size mismatch: got more than the expected ${this.#expected.size} bytes`,
      );
    }
    this.#hash?.update(chunk);
  }

  /** Throws unless exactly the expected bytes were seen. */
  finish(): void {
    if (this.#received !== this.#expected.size) {
      throw new BerthError(
        Code.FailedPrecondition,
        `${this.#subject}: size mismatch: got ${this.#received} of ${this.#expected.size} bytes`,
      );
    }
    if (!this.#hash) return;
    const actual = `sha256:${this.#hash.digest("hex")}`;
    if (actual !== this.#expected.digest) {
      throw new BerthError(
        Code.FailedPrecondition,
        `${this.#subject}: digest mismatch: got ${actual}, expected ${this.#expected.digest}`,
      );
    }
  }
}

/** A pass-through stream that errors when the bytes do not match. */
export function verifyingStream(
  expected: Pick<Descriptor, "digest" | "size">,
  subject: string,
): TransformStream<Uint8Array, Uint8Array> {
  const verifier = new Verifier(expected, subject);
  return new TransformStream({
    transform(chunk, controller) {
      verifier.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      verifier.finish();
    },
  });
}
