/**
 * What a transfer reports while it runs: every blob it has seen, with its
 * state and how far it got.
 *
 * @module
 */
import type { Descriptor } from "../types/mod.ts";

/** The states a blob goes through. */
export type BlobState =
  | "waiting"
  | "downloading"
  | "unpacking"
  | "done"
  | "exists"
  | "uploading"
  | "mounted"
  | "failed";

/** One blob's progress. */
export interface BlobProgress {
  /** `index`, `manifest`, `config` or `layer`. */
  kind: string;
  /** The blob. */
  descriptor: Descriptor;
  /** Where it is. */
  state: BlobState;
  /** Bytes moved so far. */
  offset: number;
}

/** Collects blob progress and tells a listener (coalescing is its job). */
export class ProgressTracker {
  readonly #blobs = new Map<string, BlobProgress>();
  readonly #onChange: () => void;
  /** When the transfer started. */
  readonly startedAt = new Date();

  /** Creates a tracker calling `onChange` after every change. */
  constructor(onChange: () => void = () => {}) {
    this.#onChange = onChange;
  }

  /** Records (or updates) a blob. */
  set(
    kind: string,
    descriptor: Descriptor,
    state: BlobState,
    offset?: number,
  ): void {
    const current = this.#blobs.get(descriptor.digest);
    this.#blobs.set(descriptor.digest, {
      kind,
      descriptor,
      state,
      offset: offset ?? current?.offset ?? 0,
    });
    this.#onChange();
  }

  /** Moves a blob's offset on. */
  advance(digest: string, offset: number): void {
    const current = this.#blobs.get(digest);
    if (!current) return;
    current.offset = offset;
    this.#onChange();
  }

  /** Every blob, in the order first seen. */
  snapshot(): BlobProgress[] {
    return [...this.#blobs.values()].map((blob) => ({ ...blob }));
  }
}
