/**
 * Client-side content helpers, shaped like containerd's `content` package:
 * a writer over the `Content.Write` bidirectional stream that resumes an
 * interrupted ingest from the offset the daemon reports, and a reader that
 * streams `Content.Read` without holding the whole blob.
 *
 * @module
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Content,
  WriteAction,
  type WriteContentRequestSchema,
  type WriteContentResponse,
} from "../gen/containerd/services/content/v1/content_pb.ts";
import type { CoreClient as Client } from "./core.ts";
import {
  ClientError,
  Code,
  errorMessage,
  hasCode,
  isAlreadyExists,
} from "./errors.ts";

/**
 * Bytes a single WRITE carries, as ctr's 1 MiB copy buffer.
 *
 * @example
 * ```ts
 * import { CHUNK_SIZE } from "@berth/berth/client";
 * console.log(CHUNK_SIZE); // 1048576
 * ```
 */
export const CHUNK_SIZE = 1 << 20;

/** WRITE messages sent ahead of their answers. */
const WINDOW = 8;

const DIGEST_FORMAT = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Hex characters of each supported algorithm's digests. */
const HEX_LENGTH: Record<string, number> = {
  sha256: 64,
  sha384: 96,
  sha512: 128,
};

/**
 * Checks a digest as go-digest's `Parse` does, with its error messages;
 * returns it unchanged.
 *
 * @example
 * ```ts
 * import { parseDigest } from "@berth/berth/client";
 * parseDigest("sha256:" + "0".repeat(64));
 * ```
 */
export function parseDigest(text: string): string {
  const at = text.indexOf(":");
  if (at <= 0 || at + 1 === text.length) {
    throw new Error("invalid checksum digest format");
  }
  const algorithm = text.slice(0, at);
  const encoded = text.slice(at + 1);
  const length = HEX_LENGTH[algorithm];
  if (!length) {
    throw new Error(
      DIGEST_FORMAT.test(text)
        ? "unsupported digest algorithm"
        : "invalid checksum digest format",
    );
  }
  if (encoded.length !== length) {
    throw new Error("invalid checksum digest length");
  }
  if (!/^[a-f0-9]+$/.test(encoded)) {
    throw new Error("invalid checksum digest format");
  }
  return text;
}

/** An unbounded queue read as an async iterable: the request side of a stream. */
class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #closed = false;
  #wake?: () => void;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.#items.length) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}

type WriteRequest = MessageInitShape<typeof WriteContentRequestSchema>;

/**
 * One `Content.Write` stream: each request is answered by one response, in
 * order. Requests may be sent ahead of their answers.
 *
 * @example
 * ```ts
 * import { Client, ContentWriter } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const writer = await ContentWriter.open(client, "my-ref", 0n, "");
 * await writer.writeAll(
 *   ReadableStream.from([new TextEncoder().encode("hello")]),
 * );
 * await writer.commit(5n, "");
 * ```
 */
export class ContentWriter {
  /** The ingest's ref. */
  readonly ref: string;
  /** Where the next WRITE goes. */
  offset = 0n;
  readonly #requests = new Channel<WriteRequest>();
  readonly #responses: AsyncIterator<WriteContentResponse>;

  private constructor(client: Client, ref: string) {
    this.ref = ref;
    this.#responses = client.service(Content).write(this.#requests)[
      Symbol.asyncIterator
    ]();
  }

  /**
   * Opens the stream with a STAT naming the ref, the expected size and
   * digest (as ctr's `negotiate`); the answer's offset is where the
   * ingest resumes. Throws the daemon's error, e.g. AlreadyExists when
   * the expected blob is already stored, Unavailable when the ref is
   * locked by another writer.
   */
  static async open(
    client: Client,
    ref: string,
    total: bigint,
    expected: string,
  ): Promise<ContentWriter> {
    const writer = new ContentWriter(client, ref);
    try {
      const status = await writer.#call({
        action: WriteAction.STAT,
        ref,
        total,
        expected,
      });
      writer.offset = status.offset;
    } catch (err) {
      writer.close();
      throw err;
    }
    return writer;
  }

  /** Sends a request without waiting for its answer. */
  send(request: WriteRequest): void {
    this.#requests.push(request);
  }

  /** The answer to the oldest request not yet answered. */
  async receive(): Promise<WriteContentResponse> {
    const next = await this.#responses.next();
    if (next.done) {
      throw new ClientError(Code.Unknown, "write stream ended early");
    }
    return next.value;
  }

  async #call(request: WriteRequest): Promise<WriteContentResponse> {
    this.send(request);
    return await this.receive();
  }

  /** The ingest's status (a STAT). */
  stat(): Promise<WriteContentResponse> {
    return this.#call({ action: WriteAction.STAT });
  }

  /**
   * Writes every chunk of `chunks` from the current offset, keeping a few
   * WRITEs in flight; returns the bytes written. When `chunks` itself
   * fails, the WRITEs already sent are settled first, so the stream stays
   * usable (e.g. to {@linkcode truncate}) before the error is rethrown.
   */
  async writeAll(chunks: AsyncIterable<Uint8Array>): Promise<bigint> {
    const pending: bigint[] = [];
    const settle = async () => {
      const want = pending.shift()!;
      const resp = await this.receive();
      if (resp.offset !== want) {
        throw new Error(
          `failed to send write: short write (at ${resp.offset}, want ${want})`,
        );
      }
    };
    let written = 0n;
    const iterator = chunks[Symbol.asyncIterator]();
    while (true) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (err) {
        while (pending.length) await settle();
        throw err;
      }
      if (next.done) break;
      const chunk = next.value;
      if (chunk.length === 0) continue;
      this.send({
        action: WriteAction.WRITE,
        offset: this.offset,
        data: chunk,
      });
      this.offset += BigInt(chunk.length);
      written += BigInt(chunk.length);
      pending.push(this.offset);
      if (pending.length >= WINDOW) await settle();
    }
    while (pending.length) await settle();
    return written;
  }

  /** Drops the bytes written so far (a WRITE at offset 0 truncates). */
  async truncate(): Promise<void> {
    const resp = await this.#call({ action: WriteAction.WRITE, offset: 0n });
    this.offset = resp.offset;
  }

  /**
   * Commits the ingest with its total size and expected digest; checks
   * the answer as ctr does. Closes the stream.
   */
  async commit(
    total: bigint,
    expected: string,
    labels: Record<string, string> = {},
  ): Promise<WriteContentResponse> {
    try {
      const resp = await this.#call({
        action: WriteAction.COMMIT,
        total,
        offset: this.offset,
        expected,
        labels,
      });
      if (total !== 0n && resp.offset !== total) {
        throw new Error(`unexpected size: ${resp.offset} != ${total}`);
      }
      if (expected && resp.digest !== expected) {
        throw new Error(`unexpected digest: ${resp.digest} != ${expected}`);
      }
      return resp;
    } finally {
      this.close();
    }
  }

  /** Ends the request side; the daemon keeps the ingest for a later resume. */
  close(): void {
    this.#requests.close();
    // Let the response side finish quietly.
    this.#responses.return?.().catch(() => {});
  }
}

/**
 * Opens a writer as ctr's `OpenWriter` does: while the ref is locked by
 * another writer (Unavailable), retries with a growing random delay until
 * the command's timeout.
 *
 * @example
 * ```ts
 * import { Client, openWriter } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const writer = await openWriter(client, "my-ref", 0n, "");
 * writer.close();
 * ```
 */
export async function openWriter(
  client: Client,
  ref: string,
  total: bigint,
  expected: string,
): Promise<ContentWriter> {
  let retry = 16;
  while (true) {
    try {
      return await ContentWriter.open(client, ref, total, expected);
    } catch (err) {
      if (
        !hasCode(err, Code.Unavailable) || client.context.signal?.aborted
      ) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, Math.random() * retry));
      if (retry < 2048) retry <<= 1;
    }
  }
}

/**
 * Regroups a byte stream into chunks of `size` bytes (the last may be
 * shorter), after dropping its first `skip` bytes.
 *
 * @example
 * ```ts
 * import { rechunk } from "@berth/berth/client";
 * for await (const chunk of rechunk(Deno.stdin.readable, 4096)) console.log(chunk.length);
 * ```
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array>,
  size = CHUNK_SIZE,
  skip = 0n,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (let bytes of source) {
    if (skip > 0n) {
      if (BigInt(bytes.length) <= skip) {
        skip -= BigInt(bytes.length);
        continue;
      }
      bytes = bytes.subarray(Number(skip));
      skip = 0n;
    }
    while (bytes.length) {
      const n = Math.min(size - filled, bytes.length);
      buffer.set(bytes.subarray(0, n), filled);
      filled += n;
      bytes = bytes.subarray(n);
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (skip > 0n) throw new Error("unable to discard to offset");
  if (filled) yield buffer.subarray(0, filled);
}

/**
 * The `cause` of a source error after which the ingest's bytes are
 * worthless (e.g. a digest mismatch): {@linkcode writeBlob} truncates
 * the ingest, so that a retry starts afresh rather than resuming.
 *
 * @example
 * ```ts
 * import { DISCARD_INGEST } from "@berth/berth/client";
 * throw new Error("digest mismatch", { cause: DISCARD_INGEST });
 * ```
 */
export const DISCARD_INGEST: unique symbol = Symbol("discard ingest");

/**
 * What {@linkcode writeBlob} did.
 *
 * @example
 * ```ts
 * import type { WriteResult } from "@berth/berth/client";
 * const result: WriteResult = "exists";
 * ```
 */
export type WriteResult = "written" | "exists";

/**
 * Writes a blob from `source` into the content store under `ref`, as
 * ctr's `content.WriteBlob`: an expected blob that is already stored ends
 * it at once ("exists", the source unread); an interrupted ingest of the
 * same ref resumes at the daemon's offset, skipping that much of the
 * source; the commit checks `size` (when not 0) and `expected` (when set).
 *
 * @example
 * ```ts
 * import { Client, writeBlob } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * await writeBlob(client, "stdin-blob", Deno.stdin.readable, 0n, "");
 * ```
 */
export async function writeBlob(
  client: Client,
  ref: string,
  source:
    | AsyncIterable<Uint8Array>
    | ((offset: bigint) => AsyncIterable<Uint8Array>),
  size: bigint,
  expected: string,
  labels: Record<string, string> = {},
): Promise<WriteResult> {
  let writer: ContentWriter;
  try {
    writer = await openWriter(client, ref, size, expected);
  } catch (err) {
    if (isAlreadyExists(err)) {
      return "exists";
    }
    throw new Error(`failed to open writer: ${errorMessage(err)}`);
  }
  try {
    const start = writer.offset;
    const chunks = typeof source === "function"
      ? rechunk(source(start))
      : rechunk(source, CHUNK_SIZE, start);
    let copied: bigint;
    try {
      copied = await writer.writeAll(chunks);
    } catch (err) {
      if (err instanceof Error && err.cause === DISCARD_INGEST) {
        await writer.truncate().catch(() => {});
      }
      throw new Error(`failed to copy: ${errorMessage(err)}`, { cause: err });
    }
    if (size !== 0n && copied < size - start) {
      throw new Error(
        "failed to read expected number of bytes: unexpected EOF",
      );
    }
    try {
      await writer.commit(size, expected, labels);
    } catch (err) {
      if (isAlreadyExists(err)) {
        return "exists";
      }
      throw new Error(
        `failed commit on ref ${JSON.stringify(ref)}: ${errorMessage(err)}`,
      );
    }
    return "written";
  } finally {
    writer.close();
  }
}

/**
 * The bytes of a blob, streamed by `Content.Read` from `offset` (`size`
 * 0 reads to the end).
 *
 * @example
 * ```ts
 * import { Client, readBlob } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * for await (const chunk of readBlob(client, "sha256:…")) await Deno.stdout.write(chunk);
 * ```
 */
export async function* readBlob(
  client: Client,
  digest: string,
  offset = 0n,
  size = 0n,
): AsyncGenerator<Uint8Array> {
  const stream = client.service(Content).read({ digest, offset, size });
  for await (const resp of stream) {
    if (resp.data.length) yield resp.data;
  }
}

/**
 * Writes every byte of `data` to `out`.
 *
 * @example
 * ```ts
 * import { writeFull } from "@berth/berth/client";
 * await writeFull(Deno.stdout, new TextEncoder().encode("all of it\n"));
 * ```
 */
export async function writeFull(
  out: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  while (data.length) data = data.subarray(await out.write(data));
}

/**
 * A blob as the store describes it.
 *
 * @example
 * ```ts
 * import { Client, type BlobInfo } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const info: BlobInfo = await client.content().info("sha256:…");
 * ```
 */
export interface BlobInfo {
  /** Its digest. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** Its labels. */
  labels: Record<string, string>;
}

/**
 * Options of {@linkcode ContentStore.write}.
 *
 * @example
 * ```ts
 * import type { BlobWriteOptions } from "@berth/berth/client";
 * const options: BlobWriteOptions = { expected: "sha256:…", size: 5 };
 * ```
 */
export interface BlobWriteOptions {
  /** The digest the bytes must have. */
  expected?: string;
  /** The size they must have (0 or absent: unchecked). */
  size?: number;
  /** Labels of the committed blob. */
  labels?: Record<string, string>;
}

/**
 * The daemon's content store in the client's namespace, in the shape
 * berth's image helpers (`src/images/`) read and write content through:
 * info, streamed reads, verified writes (resumable, over `Content.Write`)
 * and label updates.
 *
 * @example
 * ```ts
 * import { Client, ContentStore } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const content = new ContentStore(client);
 * for await (const chunk of content.read("sha256:…")) console.log(chunk.length);
 * ```
 */
export class ContentStore {
  readonly #client: Client;

  /** The store behind `client`, in its namespace and lease. */
  constructor(client: Client) {
    this.#client = client;
  }

  /** The blob's digest, size and labels; NotFoundError when missing. */
  async info(digest: string): Promise<BlobInfo> {
    const { info } = await this.#client.service(Content).info({ digest });
    return {
      digest: info?.digest ?? digest,
      size: Number(info?.size ?? 0n),
      labels: info?.labels ?? {},
    };
  }

  /** The blob's bytes, streamed. */
  read(digest: string): AsyncIterable<Uint8Array> {
    return readBlob(this.#client, digest);
  }

  /**
   * Writes `stream` under ingest `ref` and commits it, checked against
   * `expected` and `size`. A blob already stored is not written again.
   */
  async write(
    ref: string,
    stream: ReadableStream<Uint8Array>,
    options: BlobWriteOptions,
  ): Promise<{ digest: string; size: number }> {
    const result = await writeBlob(
      this.#client,
      ref,
      stream,
      BigInt(options.size ?? 0),
      options.expected ?? "",
      options.labels,
    );
    if (result === "exists") await stream.cancel().catch(() => {});
    return { digest: options.expected ?? "", size: options.size ?? 0 };
  }

  /** Sets (or, with an empty value, removes) the given labels. */
  async updateLabels(
    digest: string,
    labels: Record<string, string>,
  ): Promise<void> {
    const set = Object.fromEntries(
      Object.entries(labels).filter(([, value]) => value !== ""),
    );
    await this.#client.service(Content).update({
      info: { digest, labels: set },
      updateMask: { paths: Object.keys(labels).map((key) => `labels.${key}`) },
    });
  }

  /** Removes the blob from the namespace. */
  async delete(digest: string): Promise<void> {
    await this.#client.service(Content).delete({ digest });
  }
}
