/**
 * Layer decompression: gzip, zstd or none, recognised by magic bytes as
 * containerd does (the media type only has to name a layer; a docker
 * `.tar` layer may well be gzip, and the bytes decide).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { pipeline, Readable, type Transform } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { BerthError, Code } from "../types/mod.ts";

/** A layer's compression. */
export type Compression = "none" | "gzip" | "zstd";

/** The layer media types berth applies. */
export const LayerMediaType = {
  /** OCI, uncompressed. */
  OCI: "application/vnd.oci.image.layer.v1.tar",
  /** OCI, gzip. */
  OCI_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** OCI, zstd. */
  OCI_ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
  /** OCI non-distributable, uncompressed. */
  OCI_FOREIGN: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  /** OCI non-distributable, gzip. */
  OCI_FOREIGN_GZIP:
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  /** OCI non-distributable, zstd. */
  OCI_FOREIGN_ZSTD:
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  /** Docker schema 2, uncompressed (sometimes gzip in practice). */
  DOCKER: "application/vnd.docker.image.rootfs.diff.tar",
  /** Docker schema 2, gzip. */
  DOCKER_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  /** Docker foreign layer, uncompressed. */
  DOCKER_FOREIGN: "application/vnd.docker.image.rootfs.foreign.diff.tar",
  /** Docker foreign layer, gzip. */
  DOCKER_FOREIGN_GZIP:
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

const MEDIA_TYPE_COMPRESSION: Record<string, Compression | "unknown"> = {
  [LayerMediaType.OCI]: "none",
  [LayerMediaType.OCI_GZIP]: "gzip",
  [LayerMediaType.OCI_ZSTD]: "zstd",
  [LayerMediaType.OCI_FOREIGN]: "none",
  [LayerMediaType.OCI_FOREIGN_GZIP]: "gzip",
  [LayerMediaType.OCI_FOREIGN_ZSTD]: "zstd",
  [LayerMediaType.DOCKER]: "unknown",
  [LayerMediaType.DOCKER_GZIP]: "gzip",
  [LayerMediaType.DOCKER_FOREIGN]: "unknown",
  [LayerMediaType.DOCKER_FOREIGN_GZIP]: "gzip",
};

/**
 * The compression a layer media type declares (`unknown` for docker's
 * uncompressed types, which are often gzip). Parameters (`;...`) are ignored.
 *
 * @throws {BerthError} Unimplemented for a media type that is not a layer
 * berth can apply (encrypted, bzip2, not a layer at all).
 */
export function mediaTypeCompression(
  mediaType: string,
): Compression | "unknown" {
  const base = mediaType.split(";")[0].trim().toLowerCase();
  const compression = MEDIA_TYPE_COMPRESSION[base];
  if (compression === undefined) {
    throw new BerthError(
      Code.Unimplemented,
      `layer media type ${JSON.stringify(mediaType)}`,
    );
  }
  return compression;
}

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The compression the first bytes of a blob show (at least 8 are needed). */
export function detectCompression(head: Uint8Array): Compression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return "gzip";
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return "zstd";
  // A zstd stream may start with a skippable frame: 0x184D2A5? little-endian.
  if (
    head.length >= 8 && (head[0] & 0xf0) === 0x50 && head[1] === 0x2a &&
    head[2] === 0x4d && head[3] === 0x18
  ) {
    return "zstd";
  }
  return "none";
}

/** A layer stream, decompressed. */
export interface DecompressedLayer {
  /** What the bytes were. */
  compression: Compression;
  /** The uncompressed tar. Cancel it to stop reading the source. */
  stream: ReadableStream<Uint8Array>;
}

/** Bytes read from the source before deciding on the compression. */
const PEEK_BYTES = 10;

/** zlib output chunk size: bigger chunks mean fewer hops downstream. */
const CHUNK_SIZE = 128 * 1024;

/**
 * Decompresses a layer blob. The compression is recognised by its magic
 * bytes; `mediaType`, when given, must name a layer type (it is not trusted
 * for the compression, as in containerd). Nothing is buffered beyond the
 * first few bytes and zlib's window.
 *
 * @throws {BerthError} Unimplemented for an unsupported media type; the
 * returned stream errors with InvalidArgument on corrupt data.
 */
export async function decompressLayer(
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  mediaType?: string,
): Promise<DecompressedLayer> {
  if (mediaType !== undefined) mediaTypeCompression(mediaType);
  const source = stream[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let peeked = 0;
  try {
    while (peeked < PEEK_BYTES) {
      const next = await source.next();
      if (next.done) break;
      if (next.value.byteLength === 0) continue;
      head.push(next.value);
      peeked += next.value.byteLength;
    }
  } catch (err) {
    await source.return?.();
    throw err;
  }
  const compression = detectCompression(concat(head, PEEK_BYTES));
  const raw = replay(head, source);
  let output: AsyncIterable<Uint8Array>;
  switch (compression) {
    case "none":
      output = raw;
      break;
    case "gzip":
      output = inflate(
        createGunzip({ chunkSize: CHUNK_SIZE }),
        raw,
        "gzip",
      );
      break;
    case "zstd":
      output = inflate(
        createZstdDecompress({ chunkSize: CHUNK_SIZE }),
        raw,
        "zstd",
      );
      break;
  }
  return { compression, stream: ReadableStream.from(output) };
}

function concat(chunks: Uint8Array[], max: number): Uint8Array {
  const out = new Uint8Array(
    Math.min(max, chunks.reduce((n, c) => n + c.byteLength, 0)),
  );
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= out.length) break;
    const part = chunk.subarray(0, out.length - offset);
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** The peeked chunks, then the rest of the source. */
async function* replay(
  head: Uint8Array[],
  source: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let done = false;
  try {
    yield* head;
    for (;;) {
      const next = await source.next();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await source.return?.();
  }
}

/**
 * The parts of a node:zlib object {@linkcode inflate} drives directly. Deno
 * mirrors Node's binding: `writeSync(flush, in, inOff, inLen, out, outOff,
 * outLen)` leaves `[availOutAfter, availInAfter]` in `_writeState`.
 */
interface ZlibInternals {
  _handle?: {
    writeSync(
      flush: number,
      input: Uint8Array,
      inOff: number,
      inLen: number,
      output: Uint8Array,
      outOff: number,
      outLen: number,
    ): void;
  };
  _writeState?: Uint32Array;
  _defaultFlushFlag: number;
  _finishFlushFlag: number;
  close(): void;
  on(event: "error", listener: (err: Error) => void): void;
}

/**
 * Decompresses `source` with a node:zlib object, driving its handle
 * synchronously one bounded output buffer at a time.
 *
 * Why not the stream API: in Deno 2.9.6 a corrupt zstd frame (bad content
 * checksum) makes `createZstdDecompress()`'s stream throw from a nextTick,
 * an uncaught exception that would kill the daemon; the synchronous call
 * throws where it can be caught. It is also 1.3× (gzip) to 2.4× (zstd)
 * faster. Output per call is bounded by {@linkcode CHUNK_SIZE}, so a bomb
 * never inflates in memory. Falls back to the stream API if the internals
 * are missing.
 */
async function* inflate(
  zlib: Transform,
  source: AsyncIterable<Uint8Array>,
  format: Compression,
): AsyncGenerator<Uint8Array> {
  const z = zlib as unknown as ZlibInternals;
  const handle = z._handle;
  const state = z._writeState;
  if (
    typeof handle?.writeSync !== "function" || !(state instanceof Uint32Array)
  ) {
    yield* throughZlib(zlib, source, format);
    return;
  }
  // Errors may also arrive through the binding's onerror (then 'error').
  let reported: Error | undefined;
  z.on("error", (err) => {
    reported ??= err;
  });
  const errorSymbol = Object.getOwnPropertySymbols(z).find((s) =>
    s.description === "kError"
  );
  const pending = (): unknown =>
    reported ??
      (errorSymbol
        ? (z as unknown as Record<symbol, unknown>)[errorSymbol]
        : undefined);
  let out = new Uint8Array(CHUNK_SIZE);
  // Set when the compressed stream ended and bytes follow it: those are
  // ignored, as gunzip ignores trailing garbage.
  let ended = false;
  /** Runs `input` through; returns the output chunks produced. */
  const step = function* (
    input: Uint8Array,
    flush: number,
  ): Generator<Uint8Array> {
    let offset = 0;
    while (!ended) {
      const availIn = input.byteLength - offset;
      try {
        handle.writeSync(flush, input, offset, availIn, out, 0, out.byteLength);
      } catch (err) {
        throw decompressionError(err, format);
      }
      const failure = pending();
      if (failure) throw decompressionError(failure, format);
      const availOut = state[0];
      offset += availIn - state[1];
      const produced = out.byteLength - availOut;
      if (produced > out.byteLength / 2) {
        yield out.subarray(0, produced);
        out = new Uint8Array(CHUNK_SIZE);
      } else if (produced > 0) {
        yield out.slice(0, produced);
      }
      // Done when all input is in and the output buffer was not filled.
      if (availOut !== 0 && offset >= input.byteLength) return;
      if (produced === 0 && state[1] === availIn) ended = true;
    }
  };
  try {
    for await (const chunk of source) {
      if (chunk.byteLength > 0) yield* step(chunk, z._defaultFlushFlag);
    }
    yield* step(new Uint8Array(), z._finishFlushFlag);
  } finally {
    z.close();
  }
}

/** A failure of the decompressor itself: InvalidArgument (corrupt data). */
function decompressionError(err: unknown, format: Compression): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError(
    Code.InvalidArgument,
    `layer: ${format} decompression failed: ${message}`,
    { cause: err },
  );
}

/** Runs `source` through a zlib transform, with backpressure both ways. */
async function* throughZlib(
  transform: Transform,
  source: AsyncIterable<Uint8Array>,
  format: Compression,
): AsyncGenerator<Uint8Array> {
  let sourceError: unknown = undefined;
  const input = Readable.from(
    (async function* () {
      try {
        for await (const chunk of source) {
          yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      } catch (err) {
        sourceError = err;
        throw err;
      }
    })(),
  );
  pipeline(input, transform, () => {});
  try {
    for await (const chunk of transform) {
      const buffer = chunk as Buffer;
      yield new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    }
  } catch (err) {
    if (err === sourceError) throw err;
    throw decompressionError(err, format);
  } finally {
    input.destroy();
    transform.destroy();
  }
}
