/**
 * Feeding byte chunks into tar-stream's reader: one way to pull from either
 * kind of source, and waiting for the reader to want more.
 *
 * @module
 */
import type { Extract } from "tar-stream";

/** A source of chunks, read one at a time and cancellable. */
export interface ChunkSource {
  /** The next chunk. */
  next(): Promise<IteratorResult<Uint8Array>>;
  /** Stops the source (its reader or iterator). */
  cancel(): Promise<void>;
}

/** Pulls from a stream's reader or an iterable's iterator alike. */
export function chunkSource(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): ChunkSource {
  if (source instanceof ReadableStream) {
    const reader = source.getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<Uint8Array>>,
      cancel: () => reader.cancel(),
    };
  }
  const iterator = source[Symbol.asyncIterator]();
  return {
    next: () => iterator.next(),
    cancel: async () => {
      await iterator.return?.();
    },
  };
}

/** Resolves when `extract` takes writes again, or has closed. */
export function drained(extract: Extract): Promise<void> {
  if (extract.destroyed || extract.destroying) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      extract.off("drain", done);
      extract.off("close", done);
      resolve();
    };
    extract.on("drain", done);
    extract.on("close", done);
  });
}
