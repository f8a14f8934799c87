/**
 * What the content store's users and its parts share: blob and ingest
 * records, reader and writer interfaces, and their options. Kept apart from
 * `store.ts` so that the writer and ingest files need not import the store.
 *
 * @module
 */

/** A committed blob. */
export interface BlobInfo {
  /** Its digest (`sha256:…`). */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** When it was committed (the file's modification time). */
  createdAt: Date;
  /** When it was last updated (the file's access time, as containerd). */
  updatedAt: Date;
}

/** The progress of an ingest. */
export interface IngestStatus {
  /** The ingest's ref. */
  ref: string;
  /** Bytes written so far. */
  offset: number;
  /** The expected size, 0 when unknown. */
  total: number;
  /** The expected digest, "" when unknown. */
  expected: string;
  /** When the ingest started. */
  startedAt: Date;
  /** When it was last written to. */
  updatedAt: Date;
}

/** Options for opening a writer on an ingest. */
export interface WriterOptions {
  /** The ref naming the ingest; the same ref resumes it. */
  ref: string;
  /** The expected size; 0 or absent when unknown. */
  total?: number;
  /** The expected digest; absent when unknown. */
  expected?: string;
}

/** Options of {@linkcode ContentWriter.commit}. */
export interface CommitOptions {
  /** The size to verify; 0 or absent falls back to the writer's total. */
  size?: number;
  /** The digest to verify; absent falls back to the writer's expected. */
  expected?: string;
}

/** Options for reading a blob. */
export interface ReadOptions {
  /** Where to start, in bytes (negative counts as 0). */
  offset?: number;
  /** How many bytes at most; 0 or absent reads to the end. */
  size?: number;
  /** The largest chunk yielded, in bytes (default 1 MiB). */
  chunkSize?: number;
}

/** Reads an ingest's bytes written so far. */
export interface IngestReader {
  /** Up to `size` bytes from `offset` (fewer at the end of what is written). */
  readAt(offset: number, size: number): Promise<Uint8Array>;
  /** Closes the file. */
  close(): void;
}

/** An open ingest, held exclusively until committed or closed. */
export interface ContentWriter {
  /** The ingest's ref. */
  readonly ref: string;
  /** The ingest's progress; `offset` counts the bytes written. */
  status(): IngestStatus;
  /** The digest of the bytes written so far. */
  digest(): string;
  /** Appends at the current offset; never past a known total (OutOfRange). */
  write(data: Uint8Array): Promise<void>;
  /** Discards what was written; only size 0 is supported. */
  truncate(size: number): Promise<void>;
  /** Verifies and commits the data as a blob; returns its digest. */
  commit(options?: CommitOptions): Promise<string>;
  /** Releases the ref; the ingest stays on disk to be resumed. */
  close(): Promise<void>;
}
