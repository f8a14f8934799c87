/**
 * What image logic needs of a content store, in one namespace:
 * {@linkcode ImageContent}. The daemon binds it to its namespaced store;
 * tests use a Map. Also the few helpers every caller of it wants: bounded
 * reads of small blobs, and writes that treat "already there" as done.
 *
 * @module
 */
import {
  BerthError,
  Code,
  type Descriptor,
  invalidArgument,
} from "../types/mod.ts";

/** A blob as the store describes it. */
export interface BlobInfo {
  /** Its digest. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** Its labels. */
  labels: Record<string, string>;
}

/** Options of {@linkcode ImageContent.write}. */
export interface BlobWriteOptions {
  /** The digest the bytes must have; a mismatch fails and stores nothing. */
  expected?: string;
  /** The size the bytes must have, when known. */
  size?: number;
  /** Labels of the committed blob. */
  labels?: Record<string, string>;
}

/** A narrow view of a content store in one namespace. */
export interface ImageContent {
  /** The blob `digest`; throws NotFound when the namespace lacks it. */
  info(digest: string): BlobInfo | Promise<BlobInfo>;
  /** Streams a blob's bytes; throws (or the stream fails) with NotFound. */
  read(
    digest: string,
  ): AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
  /**
   * Stores `stream` under the ingest `ref`, reading it to its end, and
   * commits it: verified against `expected` and `size` when given. May
   * throw AlreadyExists when `expected` is already stored (without reading
   * the stream); {@linkcode writeBlob} handles that.
   */
  write(
    ref: string,
    stream: ReadableStream<Uint8Array>,
    options: BlobWriteOptions,
  ): Promise<{ digest: string; size: number }>;
  /**
   * Sets the given labels of blob `digest`, leaving the others; an empty
   * value removes a label.
   */
  updateLabels(
    digest: string,
    labels: Record<string, string>,
  ): void | Promise<void>;
}

/** Default largest size of a manifest, index or config: 4 MiB. */
export const DEFAULT_MAX_JSON_BYTES = 4 * 1024 * 1024;

/** True when `err` is a NotFound {@linkcode BerthError}. */
export function isNotFound(err: unknown): boolean {
  return BerthError.is(err, Code.NotFound);
}

/** The blob's info, or undefined when the store does not have it. */
export async function tryInfo(
  content: Pick<ImageContent, "info">,
  digest: string,
): Promise<BlobInfo | undefined> {
  try {
    return await content.info(digest);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Reads a small blob whole, refusing before reading when the descriptor or
 * the store says it is larger than `maxBytes` (ResourceExhausted), and
 * stopping when more bytes than that arrive anyway.
 */
export async function readBlob(
  content: Pick<ImageContent, "info" | "read">,
  desc: Pick<Descriptor, "digest" | "size"> & { mediaType?: string },
  maxBytes: number = DEFAULT_MAX_JSON_BYTES,
): Promise<Uint8Array> {
  const subject = `blob ${desc.digest}`;
  if (desc.size > maxBytes) throw tooLarge(subject, desc.size, maxBytes);
  const info = await content.info(desc.digest);
  if (info.size > maxBytes) throw tooLarge(subject, info.size, maxBytes);
  return await collect(await content.read(desc.digest), maxBytes, subject);
}

/** All of `source`, failing with ResourceExhausted beyond `maxBytes`. */
export async function collect(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  maxBytes: number,
  subject: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        finished = true;
        break;
      }
      total += next.value.byteLength;
      if (total > maxBytes) throw tooLarge(subject, total, maxBytes, true);
      chunks.push(next.value);
    }
  } finally {
    if (!finished) await iterator.return?.().catch(() => {});
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function tooLarge(
  subject: string,
  size: number,
  maxBytes: number,
  atLeast = false,
): BerthError {
  return new BerthError(
    Code.ResourceExhausted,
    `${subject}: size ${
      atLeast ? "over " : ""
    }${size} exceeds the limit of ${maxBytes} bytes`,
  );
}

/**
 * Writes a blob through `content`. When the store already has `expected`
 * (AlreadyExists), the stream is cancelled, the labels are set on the
 * stored blob, and that counts as done.
 */
export async function writeBlob(
  content: Pick<ImageContent, "write" | "updateLabels" | "info">,
  ref: string,
  stream: ReadableStream<Uint8Array>,
  options: BlobWriteOptions = {},
): Promise<{ digest: string; size: number }> {
  try {
    return await content.write(ref, stream, options);
  } catch (err) {
    if (!BerthError.is(err, Code.AlreadyExists) || !options.expected) {
      if (!stream.locked) await stream.cancel(err).catch(() => {});
      throw err;
    }
    if (!stream.locked) await stream.cancel().catch(() => {});
    const info = await content.info(options.expected);
    if (options.size !== undefined && info.size !== options.size) {
      throw invalidArgument(
        `content ${options.expected}: stored size ${info.size} is not the expected ${options.size}`,
      );
    }
    if (options.labels && Object.keys(options.labels).length > 0) {
      await content.updateLabels(options.expected, options.labels);
    }
    return { digest: options.expected, size: info.size };
  }
}

/** A stream of `bytes`, for writing small blobs. */
export function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength) controller.enqueue(bytes);
      controller.close();
    },
  });
}
