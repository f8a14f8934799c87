/**
 * The writer of one ingest: appends to `data` while keeping a running
 * sha256, and commits by renaming the synced file into `blobs/`.
 *
 * Operations on one writer run one after another, in call order. The state
 * seen through {@linkcode ContentWriter.status} and
 * {@linkcode ContentWriter.digest} changes only when a write succeeds.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { dirname } from "node:path";
import {
  alreadyExists,
  BerthError,
  Code,
  failedPrecondition,
  invalidArgument,
} from "../types/mod.ts";
import { DIGEST_ALGORITHM, validateDigest } from "./digest.ts";
import { ingestFiles, writeTimestamp } from "./ingest.ts";
import type { RefLock } from "./locks.ts";
import type { CommitOptions, ContentWriter, IngestStatus } from "./types.ts";
import { NanoDate } from "../types/mod.ts";
import { realtimeNanos } from "../sys/clock.ts";

/** What a {@linkcode LocalContentWriter} is opened with (by the store). */
export interface LocalWriterOptions {
  /** The ingest directory. */
  dir: string;
  /** The open data file, positioned at `offset`. */
  file: Deno.FsFile;
  /** The ref lock, released on commit or close. */
  lock: RefLock;
  /** The hash of the `offset` bytes already in the data file. */
  hash: Hash;
  /** The status to start from (the ref, offset, total, times …). */
  status: IngestStatus;
  /** The path a blob with `digest` is committed to. */
  blobPath(digest: string): string;
}

/** A {@linkcode ContentWriter} on a local ingest directory. */
export class LocalContentWriter implements ContentWriter {
  /** The ingest's ref. */
  readonly ref: string;
  #dir: string;
  #file: Deno.FsFile | undefined;
  #lock: RefLock;
  #hash: Hash;
  #offset: number;
  #total: number;
  #expected: string;
  #startedAt: Date;
  #updatedAt: Date;
  #blobPath: (digest: string) => string;
  #queue: Promise<unknown> = Promise.resolve();

  /** Wraps an opened ingest; use the store's `writer()` instead. */
  constructor(options: LocalWriterOptions) {
    this.ref = options.status.ref;
    this.#dir = options.dir;
    this.#file = options.file;
    this.#lock = options.lock;
    this.#hash = options.hash;
    this.#offset = options.status.offset;
    this.#total = options.status.total;
    this.#expected = options.status.expected;
    this.#startedAt = options.status.startedAt;
    this.#updatedAt = options.status.updatedAt;
    this.#blobPath = options.blobPath;
  }

  /** The ingest's progress: `offset` is the number of bytes written. */
  status(): IngestStatus {
    return {
      ref: this.ref,
      offset: this.#offset,
      total: this.#total,
      expected: this.#expected,
      startedAt: this.#startedAt,
      updatedAt: this.#updatedAt,
    };
  }

  /** The digest of the bytes written so far. */
  digest(): string {
    return `${DIGEST_ALGORITHM}:${this.#hash.copy().digest("hex")}`;
  }

  /**
   * Appends `data` at the current offset. A write that would pass a known
   * total fails with OutOfRange and writes nothing; a failed write leaves
   * the offset where it was.
   */
  write(data: Uint8Array): Promise<void> {
    return this.#serial(() => this.#write(data));
  }

  async #write(data: Uint8Array): Promise<void> {
    const file = this.#open("write");
    if (data.length === 0) return;
    const end = this.#offset + data.length;
    if (this.#total > 0 && end > this.#total) {
      throw new BerthError(
        Code.OutOfRange,
        `write of ${data.length} bytes at offset ${this.#offset} would pass total ${this.#total}`,
      );
    }
    // Hash while the write runs on Deno's I/O thread.
    const writing = writeAll(file, data);
    const next = this.#hash.copy().update(data);
    try {
      await writing;
    } catch (err) {
      // Put the file back to the last good offset; the hash never moved.
      try {
        await file.truncate(this.#offset);
        await file.seek(this.#offset, Deno.SeekMode.Start);
      } catch {
        // The original error says more.
      }
      throw err;
    }
    this.#hash = next;
    this.#offset = end;
    this.#updatedAt = new NanoDate(realtimeNanos());
  }

  /** Discards everything written (only size 0 is supported). */
  truncate(size: number): Promise<void> {
    return this.#serial(async () => {
      const file = this.#open("truncate");
      if (size !== 0) {
        throw invalidArgument(`truncate to ${size}: only 0 is supported`);
      }
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
      this.#hash = createHash("sha256");
      this.#offset = 0;
      this.#updatedAt = new NanoDate(realtimeNanos());
    });
  }

  /**
   * Verifies and commits the ingest as a blob, returning its digest. The
   * size checked is `size` when > 0, else the writer's total when known; the
   * digest checked is `expected`, else the writer's expected when known. A
   * mismatch (FailedPrecondition) keeps the ingest for a later writer on
   * the same ref; an existing blob (AlreadyExists) removes it. The writer
   * is closed afterwards in every case.
   */
  commit(options: CommitOptions = {}): Promise<string> {
    return this.#serial(() => this.#commit(options));
  }

  async #commit(options: CommitOptions): Promise<string> {
    if (options.expected) validateDigest(options.expected);
    const file = this.#open("commit");
    this.#file = undefined;
    try {
      await file.sync();
      const { size: actual } = await file.stat();
      file.close();
      const size = options.size && options.size > 0
        ? options.size
        : this.#total;
      // A mismatch keeps the ingest, as containerd does: the same ref can
      // be reopened, inspected and committed right.
      if (size > 0 && size !== actual) {
        throw failedPrecondition(
          `unexpected commit size ${actual}, expected ${size}`,
        );
      }
      if (actual !== this.#offset) {
        // The file changed under us: its digest is not the hash we kept.
        await this.#removeIngest();
        throw new BerthError(
          Code.DataLoss,
          `ingest ${this.ref} holds ${actual} bytes, ${this.#offset} were written`,
        );
      }
      const digest = this.digest();
      const expected = options.expected || this.#expected;
      if (expected && expected !== digest) {
        throw failedPrecondition(
          `unexpected commit digest ${digest}, expected ${expected}`,
        );
      }
      const target = this.#blobPath(digest);
      await Deno.mkdir(dirname(target), { recursive: true });
      if (await exists(target)) {
        await this.#removeIngest();
        throw alreadyExists(`content ${digest}`);
      }
      await Deno.rename(ingestFiles(this.#dir).data, target);
      // From here on the blob is in; the rest is tidying up.
      const now = new Date();
      await ignoreErrors(Deno.utime(target, now, now));
      await ignoreErrors(Deno.chmod(target, 0o444));
      await this.#removeIngest();
      return digest;
    } finally {
      closeQuietly(file);
      this.#lock.release();
    }
  }

  /**
   * Syncs the data, records the update time and releases the ref lock; the
   * ingest stays on disk for a later writer on the same ref to resume.
   * Closing a closed or committed writer does nothing.
   */
  close(): Promise<void> {
    return this.#serial(async () => {
      const file = this.#file;
      if (!file) return;
      this.#file = undefined;
      try {
        await file.sync();
        await writeTimestamp(
          ingestFiles(this.#dir).updatedAt,
          this.#updatedAt,
        );
      } finally {
        closeQuietly(file);
        this.#lock.release();
      }
    });
  }

  /** The open data file, or FailedPrecondition when closed. */
  #open(action: string): Deno.FsFile {
    if (!this.#file) {
      throw failedPrecondition(`cannot ${action} on closed writer`);
    }
    return this.#file;
  }

  async #removeIngest(): Promise<void> {
    await ignoreErrors(Deno.remove(this.#dir, { recursive: true }));
  }

  /** Runs `fn` after every earlier operation has settled. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

/** Writes all of `data` to `file` at its position. */
async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await file.write(data.subarray(written));
  }
}

/** True when `path` exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Awaits `p`, ignoring a failure. */
async function ignoreErrors(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch {
    // Best effort.
  }
}

/** Closes `file` unless it is already closed. */
function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed.
  }
}
