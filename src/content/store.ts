/**
 * The local content store: content-addressed blobs on disk, written through
 * resumable ingests, in containerd's layout:
 *
 * - `<root>/blobs/sha256/<hex>`: committed blobs, read-only;
 * - `<root>/ingest/<hex of sha256(ref)>/`: unfinished writes (see
 *   `ingest.ts`).
 *
 * A blob appears only by an atomic rename of fully written, synced and
 * verified data, so partial data is never visible as a blob, and nothing
 * temporary is ever created in `blobs/`. After a crash, the data an ingest
 * holds is resumed by the next writer on its ref.
 *
 * The store knows nothing of namespaces, labels or leases: the metadata
 * layer above it adds them.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { join, resolve } from "node:path";
import {
  alreadyExists,
  BerthError,
  Code,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "../types/mod.ts";
import { DIGEST_ALGORITHM, digestHex, validateDigest } from "./digest.ts";
import {
  createIngestFiles,
  ingestDirName,
  ingestFiles,
  readIngestRef,
  readIngestStatus,
  writeFileAtomic,
} from "./ingest.ts";
import { lockRef, type RefLock } from "./locks.ts";
import type {
  BlobInfo,
  ContentWriter,
  IngestReader,
  IngestStatus,
  ReadOptions,
  WriterOptions,
} from "./types.ts";
import { LocalContentWriter } from "./writer.ts";
import { type OpenBlob, OpenBlobs } from "./_open_blobs.ts";
import { NanoDate } from "../types/mod.ts";
import { realtimeNanos } from "../sys/clock.ts";

/** Options of {@linkcode LocalContentStore}. */
export interface LocalContentStoreOptions {
  /** The store's directory (the daemon's `ROOT/io.containerd.content.v1.content`). */
  root: string;
}

/** Longest ref accepted, in UTF-8 bytes. */
export const MAX_REF_LENGTH = 1024;

/** Default chunk size of {@linkcode LocalContentStore.read}. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

/** The content store on a local directory. */
export class LocalContentStore {
  /** The store's directory, absolute. */
  readonly root: string;
  #blobs: string;
  #ingest: string;
  #files = new OpenBlobs({ pathOf: (digest) => this.path(digest) });

  /** Opens the store at `options.root`, creating its directories. */
  constructor(options: LocalContentStoreOptions) {
    this.root = resolve(options.root);
    this.#blobs = join(this.root, "blobs");
    this.#ingest = join(this.root, "ingest");
    Deno.mkdirSync(join(this.#blobs, DIGEST_ALGORITHM), { recursive: true });
    Deno.mkdirSync(this.#ingest, { recursive: true });
  }

  /** The path of the blob with `digest` (whether or not it exists). */
  path(digest: string): string {
    return join(this.#blobs, DIGEST_ALGORITHM, digestHex(digest));
  }

  /**
   * Opens the bytes of ingest `ref` for reading while it is still being
   * written (to unpack a layer as it downloads). The open file survives the
   * commit that renames it into the blob store.
   */
  async openIngest(ref: string): Promise<IngestReader> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(join(this.#ingestDir(ref), "data"), {
        read: true,
      });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw notFound(`ingest ref ${JSON.stringify(ref)}`);
      }
      throw err;
    }
    return {
      async readAt(offset, size) {
        const chunk = new Uint8Array(size);
        await file.seek(offset, Deno.SeekMode.Start);
        let filled = 0;
        while (filled < size) {
          const n = await file.read(chunk.subarray(filled));
          if (n === null) break;
          filled += n;
        }
        return chunk.subarray(0, filled);
      },
      close: () => file.close(),
    };
  }

  /** The blob's info; NotFound when absent. */
  async info(digest: string): Promise<BlobInfo> {
    const path = this.path(digest);
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw notFound(`content ${digest}`);
      }
      throw err;
    }
    if (!stat.isFile) throw notFound(`content ${digest}`);
    return blobInfo(digest, stat);
  }

  /** True when the blob exists. */
  async has(digest: string): Promise<boolean> {
    try {
      await this.info(digest);
      return true;
    } catch (err) {
      if (BerthError.is(err, Code.NotFound)) return false;
      throw err;
    }
  }

  /**
   * Streams the blob from disk in chunks of at most `chunkSize`, from
   * `offset`, `size` bytes at most. Each chunk is a fresh buffer the caller
   * may keep. Errors surface on the first iteration: NotFound, or
   * OutOfRange (`read past object length N bytes`) for an offset past the
   * end. An offset equal to the size yields nothing.
   *
   * The file is read with synchronous calls: a chunk comes from the page
   * cache in microseconds, while each asynchronous call waits its turn on
   * Deno's blocking thread pool — milliseconds on a busy host. And it stays
   * open between reads (see `_open_blobs.ts`): `ctr content get` makes one
   * Read call per 32 KiB, each of which would open, stat and close it.
   */
  async *read(
    digest: string,
    options: ReadOptions = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw invalidArgument(`read chunk size ${chunkSize} must be positive`);
    }
    let blob: OpenBlob;
    try {
      blob = this.#files.acquire(digest);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw notFound(`content ${digest}`);
      }
      throw err;
    }
    try {
      const length = blob.size;
      let position = Math.max(0, options.offset ?? 0);
      if (position > length) {
        throw new BerthError(
          Code.OutOfRange,
          `read past object length ${length} bytes`,
        );
      }
      let remaining = length - position;
      if (options.size && options.size > 0 && options.size < remaining) {
        remaining = options.size;
      }
      while (remaining > 0) {
        const chunk = new Uint8Array(Math.min(chunkSize, remaining));
        const filled = readAt(blob, chunk, position);
        if (filled === 0) {
          throw new BerthError(
            Code.DataLoss,
            `content ${digest}: ended ${remaining} bytes early`,
          );
        }
        remaining -= filled;
        position += filled;
        yield filled === chunk.length ? chunk : chunk.subarray(0, filled);
      }
    } finally {
      this.#files.release(blob);
    }
  }

  /**
   * Closes the blob files kept open for reads (readers still running keep
   * theirs until they are done).
   */
  close(): void {
    this.#files.close();
  }

  /** Deletes the blob; NotFound when absent. */
  async delete(digest: string): Promise<void> {
    this.#files.forget(digest);
    try {
      await Deno.remove(this.path(digest));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw notFound(`content ${digest}`);
      }
      throw err;
    } finally {
      // A read that opened the file while the removal was under way.
      this.#files.forget(digest);
    }
  }

  /** Every blob, in directory order. */
  async *walk(): AsyncGenerator<BlobInfo, void, undefined> {
    const dir = join(this.#blobs, DIGEST_ALGORITHM);
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const digest = `${DIGEST_ALGORITHM}:${entry.name}`;
      try {
        validateDigest(digest);
      } catch {
        continue; // Not a blob: nothing berth wrote.
      }
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(join(dir, entry.name));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // Just deleted.
        throw err;
      }
      yield blobInfo(digest, stat);
    }
  }

  /**
   * Opens a writer on `options.ref`, resuming its ingest when one exists
   * (the offset is the data's size; the data is re-hashed). Only one writer
   * per ref at a time: another fails with Unavailable after a short retry.
   * AlreadyExists when `expected` is given and that blob exists;
   * FailedPrecondition when `total` differs from a resumed ingest's.
   */
  async writer(options: WriterOptions): Promise<ContentWriter> {
    const { ref } = options;
    validateRef(ref);
    const total = options.total ?? 0;
    if (!Number.isSafeInteger(total) || total < 0) {
      throw invalidArgument(`total ${total} must be a non-negative integer`);
    }
    const expected = options.expected ?? "";
    if (expected) validateDigest(expected);

    const dir = this.#ingestDir(ref);
    const lock = await lockRef(dir, ref);
    try {
      if (expected && await this.has(expected)) {
        throw alreadyExists(`content ${expected}`);
      }
      return await this.#openWriter(dir, lock, ref, total, expected);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  async #openWriter(
    dir: string,
    lock: RefLock,
    ref: string,
    total: number,
    expected: string,
  ): Promise<ContentWriter> {
    const files = ingestFiles(dir);
    const resumed = await this.#resumable(dir, ref);
    if (resumed && total > 0 && resumed.total > 0 && total !== resumed.total) {
      throw failedPrecondition(
        `provided total differs from status: ${total} != ${resumed.total}`,
      );
    }

    let status: IngestStatus;
    let file: Deno.FsFile;
    let hash = createHash("sha256");
    if (resumed) {
      if (total > 0 && resumed.total === 0) {
        await writeFileAtomic(files.total, String(total));
        resumed.total = total;
      }
      if (expected && expected !== resumed.expected) {
        await writeFileAtomic(files.expected, expected);
        resumed.expected = expected;
      }
      file = await Deno.open(files.data, { read: true, write: true });
      try {
        // Hash what is there; the offset is what was hashed.
        resumed.offset = await hashFile(file, hash);
        if (cannotComplete(resumed, hash)) {
          // Left by a crash or an earlier total: start over, or every
          // later write or commit on this ref would fail.
          await file.truncate(0);
          await file.seek(0, Deno.SeekMode.Start);
          hash = createHash("sha256");
          resumed.offset = 0;
        }
      } catch (err) {
        file.close();
        throw err;
      }
      status = resumed;
    } else {
      const now = new NanoDate(realtimeNanos());
      status = {
        ref,
        offset: 0,
        total,
        expected,
        startedAt: now,
        updatedAt: now,
      };
      await createIngestFiles(dir, status);
      file = await Deno.open(files.data, {
        write: true,
        create: true,
        truncate: true,
      });
    }
    return new LocalContentWriter({
      dir,
      file,
      lock,
      hash,
      status,
      blobPath: (digest) => this.path(digest),
    });
  }

  /**
   * The status of `ref`'s ingest when it can be resumed; otherwise clears
   * whatever is in its directory (an unfinished creation, or a ref hash
   * collision) and leaves it existing and empty.
   */
  async #resumable(
    dir: string,
    ref: string,
  ): Promise<IngestStatus | undefined> {
    try {
      await Deno.mkdir(dir);
      return undefined;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const status = await readIngestStatus(dir);
    if (status && status.ref === ref) return status;
    await Deno.remove(dir, { recursive: true });
    await Deno.mkdir(dir);
    return undefined;
  }

  /** The status of `ref`'s ingest as on disk; NotFound when none. */
  async status(ref: string): Promise<IngestStatus> {
    validateRef(ref);
    const status = await readIngestStatus(this.#ingestDir(ref));
    if (!status || status.ref !== ref) {
      throw notFound(`ingest ref ${JSON.stringify(ref)}`);
    }
    return status;
  }

  /** The status of every ingest, sorted by ref. */
  async listStatuses(): Promise<IngestStatus[]> {
    const statuses: IngestStatus[] = [];
    for await (const entry of Deno.readDir(this.#ingest)) {
      if (!entry.isDirectory) continue;
      const status = await readIngestStatus(join(this.#ingest, entry.name));
      if (status) statuses.push(status);
    }
    return statuses.sort((a, b) => a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0);
  }

  /** The ref of every ingest directory that records one, sorted. */
  async ingestRefs(): Promise<string[]> {
    const refs: string[] = [];
    for await (const entry of Deno.readDir(this.#ingest)) {
      if (!entry.isDirectory) continue;
      const ref = await readIngestRef(join(this.#ingest, entry.name));
      if (ref !== undefined) refs.push(ref);
    }
    return refs.sort();
  }

  /**
   * Removes `ref`'s ingest. NotFound when there is none; Unavailable while a
   * writer holds the ref (close it first).
   */
  async abort(ref: string): Promise<void> {
    validateRef(ref);
    const dir = this.#ingestDir(ref);
    const lock = await lockRef(dir, ref);
    try {
      try {
        await Deno.lstat(dir);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          throw notFound(`ingest ref ${JSON.stringify(ref)}`);
        }
        throw err;
      }
      await Deno.remove(dir, { recursive: true });
    } finally {
      lock.release();
    }
  }

  #ingestDir(ref: string): string {
    return join(this.#ingest, ingestDirName(ref));
  }
}

/** Throws InvalidArgument for an empty or overlong ref. */
function validateRef(ref: string): void {
  if (!ref) throw invalidArgument("ref must not be empty");
  if (new TextEncoder().encode(ref).length > MAX_REF_LENGTH) {
    throw invalidArgument(
      `ref ${
        JSON.stringify(ref.slice(0, 32))
      }… greater than maximum length (${MAX_REF_LENGTH} bytes)`,
    );
  }
}

/** A blob's info from its file's stat. */
function blobInfo(digest: string, stat: Deno.FileInfo): BlobInfo {
  const createdAt = stat.mtime ?? new Date(0);
  return {
    digest,
    size: stat.size,
    createdAt,
    updatedAt: stat.atime ?? createdAt,
  };
}

/**
 * True when a resumed ingest can never be committed: more bytes than its
 * total, or all of them with a digest other than the expected one.
 */
function cannotComplete(status: IngestStatus, hash: Hash): boolean {
  if (status.total === 0) return false;
  if (status.offset > status.total) return true;
  return status.offset === status.total && status.expected !== "" &&
    `${DIGEST_ALGORITHM}:${hash.copy().digest("hex")}` !== status.expected;
}

/**
 * Fills `chunk` from `position` of `blob` as far as the file goes; returns
 * the bytes read. Seeks only when the file is elsewhere: a reader going on
 * where the last one stopped (ctr's next 32 KiB) needs no seek.
 */
function readAt(blob: OpenBlob, chunk: Uint8Array, position: number): number {
  const file = blob.file;
  if (blob.position !== position) {
    // Unknown until the seek is done: a failed seek must not be trusted.
    blob.position = -1;
    file.seekSync(position, Deno.SeekMode.Start);
    blob.position = position;
  }
  let filled = 0;
  try {
    while (filled < chunk.length) {
      const n = file.readSync(chunk.subarray(filled));
      if (n === null) break;
      filled += n;
      blob.position += n;
    }
  } catch (err) {
    blob.position = -1;
    throw err;
  }
  return filled;
}

/** Feeds `file` from its start to its end into `hash`; returns the length. */
async function hashFile(
  file: Deno.FsFile,
  hash: ReturnType<typeof createHash>,
): Promise<number> {
  const buffer = new Uint8Array(DEFAULT_CHUNK_SIZE);
  let length = 0;
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) return length;
    hash.update(buffer.subarray(0, n));
    length += n;
  }
}
