/**
 * Applies an OCI image layer (a tar changeset) onto a directory, streaming:
 * the layer is read once, never held whole in memory, and its diffID (the
 * sha256 of the uncompressed tar) is computed on the way.
 *
 * The equivalent of containerd's `archive.Apply`; see `_applier.ts` for the
 * rules each entry follows and `paths.ts` for how names stay inside the
 * root. Limits guard against decompression bombs: total uncompressed bytes,
 * number of entries and size of one long header (ResourceExhausted).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Extract, extract as tarExtract } from "tar-stream";
import { log, type Logger } from "../log/mod.ts";
import {
  BerthError,
  Code,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "../types/mod.ts";
import { EntryApplier } from "./_applier.ts";
import { chunkSource, drained } from "./tar_feed.ts";
import { decompressLayer } from "./decompress.ts";
import { toLayerEntry } from "./_entry.ts";
import { installPaxDecoder } from "./_pax.ts";

/** Default limits of {@linkcode applyLayer}. */
export const DEFAULT_APPLY_LIMITS = {
  /** 64 GiB of uncompressed tar. */
  maxUncompressedBytes: 64 * 1024 ** 3,
  /** 4 Mi entries. */
  maxEntries: 4 * 1024 * 1024,
  /** 1 MiB for one PAX header or GNU long name. */
  maxHeaderBytes: 1024 * 1024,
} as const;

/** tar-stream's own ceiling on a long header; larger limits cannot apply. */
const TAR_STREAM_MAX_HEADER = 4 * 1024 * 1024;

/** Options of {@linkcode applyLayer}. */
export interface ApplyOptions {
  /**
   * The expected diffID (`sha256:…` of the uncompressed tar). A different
   * digest fails with FailedPrecondition after the layer was applied: the
   * caller must then discard the target.
   */
  expectedDigest?: string;
  /**
   * The layer's media type. When given, the stream is the blob as stored
   * and is decompressed first (gzip, zstd or none, by magic bytes); when
   * absent, the stream must be the uncompressed tar.
   */
  mediaType?: string;
  /**
   * Whether character and block devices may be created (default true, for
   * unpacking images into snapshots as root). When false they are an error
   * (InvalidArgument). FIFOs are always allowed.
   */
  allowDevices?: boolean;
  /** Most uncompressed tar bytes read (ResourceExhausted beyond). */
  maxUncompressedBytes?: number;
  /** Most tar entries (ResourceExhausted beyond). */
  maxEntries?: number;
  /**
   * Largest PAX header or GNU long name, in bytes (ResourceExhausted
   * beyond); at most 4 MiB, tar-stream's own ceiling.
   */
  maxHeaderBytes?: number;
  /** Stops the application (Canceled); the target is then half-written. */
  signal?: AbortSignal;
  /** Where warnings go (default: the root logger). */
  logger?: Logger;
}

/** What {@linkcode applyLayer} read. */
export interface ApplyResult {
  /** Bytes of uncompressed tar read, trailing padding included. */
  size: number;
  /** `sha256:` digest of those bytes: the layer's diffID. */
  digest: string;
}

/**
 * Applies the layer in `tarStream` onto the directory `root`.
 *
 * The stream is read to its end (trailing bytes count in the digest) or
 * cancelled on failure. Its chunks must not be reused once yielded: the tar
 * reader and the file writes hold on to them.
 *
 * On failure the target holds whatever was written before it: discard it.
 *
 * @throws {BerthError} InvalidArgument for a malformed layer or one that
 * tries to leave the root; ResourceExhausted past a limit;
 * FailedPrecondition on a diffID mismatch; NotFound when `root` is missing;
 * Canceled when `options.signal` aborts.
 */
export async function applyLayer(
  root: string,
  tarStream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const maxBytes = options.maxUncompressedBytes ??
    DEFAULT_APPLY_LIMITS.maxUncompressedBytes;
  const maxEntries = options.maxEntries ?? DEFAULT_APPLY_LIMITS.maxEntries;
  const maxHeaderBytes = Math.min(
    options.maxHeaderBytes ?? DEFAULT_APPLY_LIMITS.maxHeaderBytes,
    TAR_STREAM_MAX_HEADER,
  );
  const signal = options.signal;
  const logger = options.logger ?? log;
  let target: string;
  let source = tarStream;
  try {
    target = realRoot(root);
    checkAborted(signal);
    if (options.mediaType !== undefined) {
      source = (await decompressLayer(tarStream, options.mediaType)).stream;
    }
  } catch (err) {
    // Never leave the caller's stream hanging.
    if (tarStream instanceof ReadableStream && !tarStream.locked) {
      await tarStream.cancel(err).catch(() => {});
    }
    throw err;
  }

  const extract = tarExtract();
  installPaxDecoder(extract, { maxHeaderBytes });
  // The reader's own failure (bad header, truncation) is the root cause of
  // whatever an entry then reports ("Stream was destroyed").
  let readerError: unknown = undefined;
  extract.on("error", (err: unknown) => {
    readerError ??= err;
  });
  const hash = createHash("sha256");
  let size = 0;
  const feeder = new Feeder(source, extract, (chunk) => {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new BerthError(
        Code.ResourceExhausted,
        `layer: uncompressed size exceeds the limit of ${maxBytes} bytes`,
      );
    }
    checkAborted(signal);
    hash.update(chunk);
  });
  const feeding = feeder.run();
  // Awaited below; until then a failure must not count as unhandled.
  feeding.catch(() => {});
  const applier = new EntryApplier(target, {
    allowDevices: options.allowDevices ?? true,
    logger,
  });

  let entries = 0;
  try {
    for await (const stream of extract) {
      checkAborted(signal);
      if (++entries > maxEntries) {
        throw new BerthError(
          Code.ResourceExhausted,
          `layer: more than ${maxEntries} entries`,
        );
      }
      await applier.apply(
        toLayerEntry(stream.header),
        // A directory has no content whatever its size field says (as in
        // Go's archive/tar), and tar-stream never ends the stream of one
        // whose size is not 0: reading it would wait forever.
        stream.header.type === "directory"
          ? NO_CONTENT
          : stream as AsyncIterable<Uint8Array>,
      );
    }
  } catch (err) {
    // The feeder's error (source, size limit) is the cause of any reader
    // error; otherwise stop it and report what the entries hit.
    feeder.stop();
    extract.destroy();
    const fed = await feeding.then(() => undefined, (e) => e);
    throw fed ?? asTarError(readerError ?? err);
  }
  await feeding;
  applier.finish();

  const digest = `sha256:${hash.digest("hex")}`;
  if (
    options.expectedDigest !== undefined && options.expectedDigest !== digest
  ) {
    throw failedPrecondition(
      `layer: diffID mismatch: expected ${options.expectedDigest}, got ${digest}`,
    );
  }
  return { size, digest };
}

/** The content of an entry that has none. */
const NO_CONTENT: AsyncIterable<Uint8Array> = {
  async *[Symbol.asyncIterator]() {},
};

/** The canonical path of the target directory. */
function realRoot(root: string): string {
  let path: string;
  try {
    path = Deno.realPathSync(root);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw notFound(`layer target ${JSON.stringify(root)}`);
    }
    throw err;
  }
  if (!Deno.statSync(path).isDirectory) {
    throw invalidArgument(
      `layer target ${JSON.stringify(root)} is not a directory`,
    );
  }
  return path;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new BerthError(Code.Canceled, "layer application", {
      cause: signal.reason,
    });
  }
}

/** Errors of the tar reader (bad checksums, truncation) are InvalidArgument. */
function asTarError(err: unknown): unknown {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (message === "Header exceeds max size") {
    // tar-stream refuses, before buffering, a long header over 4 MiB.
    return new BerthError(
      Code.ResourceExhausted,
      `layer: long header exceeds ${TAR_STREAM_MAX_HEADER} bytes`,
      { cause: err },
    );
  }
  return new BerthError(
    Code.InvalidArgument,
    `layer: invalid tar: ${message}`,
    { cause: err },
  );
}

/**
 * Pumps the source into the tar reader with backpressure, passing every
 * chunk to `tap` first (digest, size limit). Stoppable while a read is
 * pending, so a failed entry never waits for a slow source.
 */
class Feeder {
  readonly #source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
  readonly #extract: Extract;
  readonly #tap: (chunk: Uint8Array) => void;
  #stopped = false;
  #cancel: () => Promise<void> = () => Promise.resolve();

  constructor(
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    extract: Extract,
    tap: (chunk: Uint8Array) => void,
  ) {
    this.#source = source;
    this.#extract = extract;
    this.#tap = tap;
  }

  /** Feeds everything, then ends the reader; rejects with the first failure. */
  async run(): Promise<void> {
    const source = chunkSource(this.#source);
    const next = source.next;
    this.#cancel = () => source.cancel().catch(() => {});
    let complete = false;
    try {
      let pending = next();
      for (;;) {
        const result = await pending;
        if (this.#stopped) return;
        if (result.done) break;
        // Read ahead: the next chunk arrives while this one is processed.
        pending = next();
        pending.catch(() => {}); // awaited on the next turn
        const chunk = result.value;
        if (chunk.byteLength === 0) continue;
        this.#tap(chunk);
        const extract = this.#extract;
        if (extract.destroyed || extract.destroying) return;
        if (!extract.write(chunk)) await drained(extract);
        if (this.#stopped) return;
      }
      complete = true;
      (this.#extract as unknown as { end(): void }).end();
    } catch (err) {
      if (this.#stopped) return;
      this.#extract.destroy(err as Error);
      throw err;
    } finally {
      if (!complete) await this.#cancel().catch(() => {});
    }
  }

  /** Stops feeding and cancels the source, even mid-read. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancel().catch(() => {});
  }
}
