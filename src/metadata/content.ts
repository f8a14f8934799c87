/**
 * Content as tenants see it: the shared blob store underneath, with
 * per-namespace ownership, labels, ingests and leases on top.
 *
 * A blob is stored once on disk; a namespace sees it only once it has
 * committed it itself. Writing a blob that is already on disk (committed by
 * another namespace) does not rewrite it: the writer starts complete and its
 * commit only records ownership.
 *
 * @module
 */
import type {
  ContentWriter,
  IngestReader,
  IngestStatus,
  LocalContentStore,
} from "../content/mod.ts";
import { validateDigest } from "../content/mod.ts";
import { fieldsAdaptor, parseFilters } from "../filters/mod.ts";
import {
  alreadyExists,
  BerthError,
  Code,
  crashPoint,
  failedPrecondition,
  invalidArgument,
  notFound,
  validateLabels,
} from "../types/mod.ts";
import { updateLabels } from "./_labels.ts";
import type { MetadataDB } from "./db.ts";
import type { LeaseStore } from "./leases.ts";
import type { NamespaceStore } from "./namespaces.ts";
import { fromNanosColumn, nanosColumn, timestampNow } from "./_time.ts";
import { nanosOf } from "../types/mod.ts";

/** The content table's timestamps, read whole. */
const TIMES = `${nanosColumn("created_at")}, ${nanosColumn("updated_at")}`;

/** A blob as one namespace sees it. */
export interface ContentInfo {
  /** Its digest. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** When this namespace committed it. */
  createdAt: Date;
  /** When its labels last changed. */
  updatedAt: Date;
  /** This namespace's labels on it. */
  labels: Record<string, string>;
}

/** Ownerships remembered for reads at most (past it they start over). */
const MAX_OWNED_CACHED = 1024;

/** How long an ingest not held by a lease lives without a write. */
export const INGEST_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** Options for {@linkcode NamespacedContentStore.writer}. */
export interface NamespacedWriterOptions {
  /** The client's ingest ref. */
  ref: string;
  /** Expected size; 0 when unknown. */
  total?: number;
  /** Expected digest; empty when unknown. */
  expected?: string;
  /** The request's lease, which will hold the ingest and the blob. */
  lease?: string;
}

/** A namespaced writer: the same calls as the blob store's writer. */
export interface NamespacedWriter {
  /** Progress so far. */
  status(): Promise<IngestStatus>;
  /** Digest of what was written so far. */
  digest(): string;
  /** Appends `data`. */
  write(data: Uint8Array): Promise<void>;
  /** Restarts the ingest (only size 0). */
  truncate(size: number): Promise<void>;
  /** Verifies and commits; returns the digest. */
  commit(options: {
    size?: number;
    expected?: string;
    labels?: Record<string, string>;
  }): Promise<string>;
  /** Lets the ref go; the ingest stays for a resume. */
  close(): Promise<void>;
}

interface ContentRow {
  digest: string;
  size: number;
  labels: string;
  created_at: string;
  updated_at: string;
}

interface IngestRow {
  ref: string;
  backend_ref: string;
  expected: string;
  total: number;
  shared: number;
  started_at: string;
  expires_at: number | null;
}

function toInfo(row: ContentRow): ContentInfo {
  return {
    digest: row.digest,
    size: row.size,
    createdAt: fromNanosColumn(row.created_at),
    updatedAt: fromNanosColumn(row.updated_at),
    labels: JSON.parse(row.labels),
  };
}

/** Refs are the client's names for ingests; any text but empty or huge. */
function validateRef(ref: string): void {
  if (!ref) throw invalidArgument("ref must not be empty");
  if (ref.length > 1024) {
    throw invalidArgument("ref is longer than 1024 characters");
  }
}

/** Options for {@linkcode NamespacedContentStore}. */
export interface NamespacedContentStoreOptions {
  /** The database. */
  db: MetadataDB;
  /** The shared blob store. */
  blobs: LocalContentStore;
  /** Namespaces (created on first use). */
  namespaces: NamespaceStore;
  /** Leases, which hold ingests and blobs created under them. */
  leases: LeaseStore;
}

/** Per-namespace content over the shared blob store. */
export class NamespacedContentStore {
  readonly #db: MetadataDB;
  readonly #blobs: LocalContentStore;
  readonly #namespaces: NamespaceStore;
  readonly #leases: LeaseStore;
  /**
   * `namespace\0digest` of blobs a read found owned, while no transaction
   * has run since (`#ownedAt`): content rows are only ever deleted in
   * transactions (a delete, a collection), so no deleted blob is in here.
   * `ctr content get` checks ownership once per 32 KiB call.
   */
  #owned = new Set<string>();
  #ownedAt = -1;
  /** Commits in progress: a sweep waits for them, and they for it. */
  #commits = 0;
  #sweeping: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  /** Creates the store; registers its check on namespace deletion. */
  constructor(options: NamespacedContentStoreOptions) {
    this.#db = options.db;
    this.#blobs = options.blobs;
    this.#namespaces = options.namespaces;
    this.#leases = options.leases;
    this.#namespaces.addContentCheck((namespace) =>
      this.#db.sql.prepare("SELECT 1 FROM content WHERE namespace = ? LIMIT 1")
          .get(namespace)
        ? "blobs"
        : undefined
    );
  }

  /** The shared blob store underneath. */
  get blobs(): LocalContentStore {
    return this.#blobs;
  }

  #row(namespace: string, digest: string): ContentRow | undefined {
    return this.#db.sql.prepare(
      `SELECT digest, size, labels, ${TIMES} FROM content WHERE namespace = ? AND digest = ?`,
    ).get(namespace, digest) as ContentRow | undefined;
  }

  /** The blob `digest` as `namespace` sees it, or NotFound. */
  info(namespace: string, digest: string): ContentInfo {
    validateDigest(digest);
    const row = this.#row(namespace, digest);
    if (!row) throw notFound(`content ${digest}`);
    return toInfo(row);
  }

  /**
   * Updates labels. `paths` name `labels` (replace all) or `labels.KEY`
   * (one key; an empty value removes it); no paths replaces all labels.
   */
  update(
    namespace: string,
    update: { digest: string; labels: Record<string, string> },
    paths: readonly string[] = [],
  ): ContentInfo {
    validateDigest(update.digest);
    validateLabels("content", update.labels);
    return this.#db.transaction(() => {
      const current = this.info(namespace, update.digest);
      const labels = updateLabels(
        current.labels,
        update.labels,
        paths,
        `content info ${JSON.stringify(update.digest)}`,
      );
      const now = timestampNow();
      this.#db.sql.prepare(
        "UPDATE content SET labels = ?, updated_at = ? WHERE namespace = ? AND digest = ?",
      ).run(JSON.stringify(labels), nanosOf(now), namespace, update.digest);
      return { ...current, labels, updatedAt: now };
    });
  }

  /** Blobs of `namespace` matching any of `filters` (`digest`, `size`, `labels`). */
  list(namespace: string, filters: readonly string[] = []): ContentInfo[] {
    const filter = parseFilters(filters);
    const rows = this.#db.sql.prepare(
      `SELECT digest, size, labels, ${TIMES} FROM content WHERE namespace = ? ORDER BY digest`,
    ).all(namespace) as unknown as ContentRow[];
    return rows.map(toInfo).filter((info) =>
      filter.match(fieldsAdaptor({
        digest: info.digest,
        size: String(info.size),
        labels: info.labels,
      }))
    );
  }

  /**
   * Removes the blob from `namespace`. The bytes stay on disk until garbage
   * collection finds no namespace that still owns them.
   */
  delete(namespace: string, digest: string): void {
    validateDigest(digest);
    this.#db.transaction(() => {
      const result = this.#db.sql.prepare(
        "DELETE FROM content WHERE namespace = ? AND digest = ?",
      ).run(namespace, digest);
      if (result.changes === 0) throw notFound(`content ${digest}`);
      this.#db.markDirty();
    });
  }

  /** Streams `size` bytes (all when 0) from `offset` of a blob the namespace owns. */
  read(
    namespace: string,
    digest: string,
    options: { offset?: number; size?: number } = {},
  ): AsyncIterable<Uint8Array> {
    validateDigest(digest);
    if (!this.#owns(namespace, digest)) throw notFound(`content ${digest}`);
    return this.#blobs.read(digest, options);
  }

  /** Whether `namespace` owns blob `digest`, from the cache when it can. */
  #owns(namespace: string, digest: string): boolean {
    const transactions = this.#db.transactions;
    if (this.#ownedAt !== transactions) {
      this.#owned.clear();
      this.#ownedAt = transactions;
    }
    const key = `${namespace}\0${digest}`;
    if (this.#owned.has(key)) return true;
    const owned = this.#db.sql.prepare(
      "SELECT 1 FROM content WHERE namespace = ? AND digest = ?",
    ).get(namespace, digest) !== undefined;
    // Inside a transaction the row may yet be rolled back.
    if (owned && !this.#db.sql.isTransaction) {
      if (this.#owned.size >= MAX_OWNED_CACHED) this.#owned.clear();
      this.#owned.add(key);
    }
    return owned;
  }

  #ingest(namespace: string, ref: string): IngestRow | undefined {
    return this.#db.sql.prepare(
      `SELECT ref, backend_ref, expected, total, shared, ${
        nanosColumn("started_at")
      }, expires_at FROM ingests WHERE namespace = ? AND ref = ?`,
    ).get(namespace, ref) as IngestRow | undefined;
  }

  async #status(row: IngestRow): Promise<IngestStatus> {
    if (row.shared) {
      return {
        ref: row.ref,
        offset: row.total,
        total: row.total,
        expected: row.expected,
        startedAt: fromNanosColumn(row.started_at),
        updatedAt: fromNanosColumn(row.started_at),
      };
    }
    const status = await this.#blobs.status(row.backend_ref);
    return {
      ...status,
      ref: row.ref,
      expected: row.expected || status.expected,
    };
  }

  /** Progress of ingest `ref` in `namespace`, or NotFound. */
  async status(namespace: string, ref: string): Promise<IngestStatus> {
    const row = this.#ingest(namespace, ref);
    if (!row) throw notFound(`ingest ref ${JSON.stringify(ref)}`);
    return await this.#status(row);
  }

  /** Active ingests of `namespace` matching any of `filters` (`ref`). */
  async listStatuses(
    namespace: string,
    filters: readonly string[] = [],
  ): Promise<IngestStatus[]> {
    const filter = parseFilters(filters);
    const rows = this.#db.sql.prepare(
      `SELECT ref, backend_ref, expected, total, shared, ${
        nanosColumn("started_at")
      }, expires_at FROM ingests WHERE namespace = ? ORDER BY ref`,
    ).all(namespace) as unknown as IngestRow[];
    const statuses: IngestStatus[] = [];
    for (const row of rows) {
      if (!filter.match(fieldsAdaptor({ ref: row.ref }))) continue;
      try {
        statuses.push(await this.#status(row));
      } catch (err) {
        // A row whose bytes are gone (aborted elsewhere) is not active.
        if (!BerthError.is(err, Code.NotFound)) throw err;
      }
    }
    return statuses;
  }

  /** Opens ingest `ref`'s bytes for reading while they are written. */
  async openIngest(namespace: string, ref: string): Promise<IngestReader> {
    const row = this.#ingest(namespace, ref);
    if (!row || row.shared) {
      throw notFound(`ingest ref ${JSON.stringify(ref)}`);
    }
    return await this.#blobs.openIngest(row.backend_ref);
  }

  /** Abandons ingest `ref`: its partial bytes are removed. */
  async abort(namespace: string, ref: string): Promise<void> {
    const row = this.#ingest(namespace, ref);
    if (!row) throw notFound(`ingest ref ${JSON.stringify(ref)}`);
    // The bytes first: an ingest being written refuses (Unavailable) and
    // then keeps its record too.
    if (!row.shared) {
      await this.#blobs.abort(row.backend_ref).catch((err) => {
        if (!BerthError.is(err, Code.NotFound)) throw err;
      });
    }
    this.#db.transaction(() => {
      this.#db.sql.prepare(
        "DELETE FROM ingests WHERE namespace = ? AND ref = ?",
      )
        .run(namespace, ref);
      this.#db.sql.prepare(
        "DELETE FROM lease_resources WHERE namespace = ? AND type = 'ingests' AND id = ?",
      ).run(namespace, ref);
    });
  }

  /**
   * Opens (or resumes) ingest `ref`. AlreadyExists when the namespace
   * already owns the expected blob.
   */
  async writer(
    namespace: string,
    options: NamespacedWriterOptions,
  ): Promise<NamespacedWriter> {
    validateRef(options.ref);
    const expected = options.expected ?? "";
    if (expected) validateDigest(expected);
    let total = options.total ?? 0;
    if (total < 0 || !Number.isSafeInteger(total)) {
      throw invalidArgument(`total ${total} is not a valid size`);
    }

    let shared = false;
    if (expected) {
      if (this.#row(namespace, expected)) {
        // A leftover ingest of what is already here is of no further use.
        if (this.#ingest(namespace, options.ref)) {
          await this.abort(namespace, options.ref).catch(() => {});
        }
        throw this.#alreadyHere(namespace, expected, options.lease);
      }
      if (await this.#blobs.has(expected)) {
        const stored = await this.#blobs.info(expected);
        if (total === 0 || total === stored.size) {
          shared = true;
          total = stored.size;
        }
      }
    }

    const backendRef = `${namespace}/${options.ref}`;
    const before = this.#ingest(namespace, options.ref);
    if (shared && before && !before.shared) {
      // Bytes a crashed or abandoned writer left are of no use now that the
      // blob is on disk; a writer still holding them keeps them.
      await this.#blobs.abort(before.backend_ref).catch(() => {});
    }
    // The ref's lock first: a writer refused because another holds it
    // changes nothing of that one's record, and costs no transaction.
    const inner = shared ? undefined : await this.#blobs.writer({
      ref: backendRef,
      total: total || undefined,
    });
    try {
      if (inner && expected && this.#row(namespace, expected)) {
        // Committed by the writer this one waited for.
        throw this.#alreadyHere(namespace, expected, options.lease);
      }
      const row = this.#recordIngest(
        namespace,
        options,
        backendRef,
        expected,
        total,
        shared,
      );
      return this.#namespacedWriter(namespace, row, options.lease, inner);
    } catch (err) {
      await inner?.close();
      throw err;
    }
  }

  /**
   * AlreadyExists for a writer of blob `digest` the namespace owns; its
   * lease holds the blob from now on, as containerd's does.
   */
  #alreadyHere(
    namespace: string,
    digest: string,
    lease: string | undefined,
  ): BerthError {
    this.#db.transaction(() =>
      this.#leases.hold(namespace, lease, { type: "content", id: digest })
    );
    return alreadyExists(`content ${digest}`);
  }

  /** Creates or refreshes ingest `options.ref`'s record; returns it. */
  #recordIngest(
    namespace: string,
    options: NamespacedWriterOptions,
    backendRef: string,
    expected: string,
    total: number,
    shared: boolean,
  ): IngestRow {
    return this.#db.transaction(() => {
      this.#namespaces.ensure(namespace);
      const existing = this.#ingest(namespace, options.ref);
      const now = Date.now();
      const startedAt = nanosOf(timestampNow());
      const leased = options.lease !== undefined;
      this.#leases.hold(namespace, options.lease, {
        type: "ingests",
        id: options.ref,
      });
      const expiresAt = leased ? null : now + INGEST_EXPIRY_MS;
      if (existing) {
        this.#db.sql.prepare(
          "UPDATE ingests SET expires_at = ?, expected = ?, total = ?, shared = ? WHERE namespace = ? AND ref = ?",
        ).run(
          expiresAt,
          expected || existing.expected,
          total || existing.total,
          // Decided again on every open: the blob may have gone since.
          shared ? 1 : 0,
          namespace,
          options.ref,
        );
      } else {
        this.#db.sql.prepare(
          "INSERT INTO ingests (namespace, ref, backend_ref, expected, total, shared, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ).run(
          namespace,
          options.ref,
          backendRef,
          expected,
          total,
          shared ? 1 : 0,
          startedAt,
          expiresAt,
        );
      }
      return this.#ingest(namespace, options.ref)!;
    });
  }

  /**
   * Removes from disk what no namespace owns any more: blobs without an
   * owner (unless an ingest expects them or a commit is recording them)
   * and ingests without a record. Returns the removed digests.
   */
  async sweep(): Promise<string[]> {
    // A commit records a blob after writing it: sweeping in between would
    // take a blob that is about to be owned. Sweeps and commits exclude
    // each other.
    while (this.#sweeping) await this.#sweeping;
    let release!: () => void;
    this.#sweeping = new Promise<void>((resolve) => release = resolve);
    try {
      if (this.#commits > 0) {
        await new Promise<void>((resolve) => this.#drained = resolve);
      }
      this.#drained = undefined;
      return await this.#sweepUnlocked();
    } finally {
      this.#sweeping = undefined;
      release();
    }
  }

  /** Runs `commit` while no sweep runs. */
  async #guardCommit<T>(commit: () => Promise<T>): Promise<T> {
    while (this.#sweeping) await this.#sweeping;
    this.#commits++;
    try {
      return await commit();
    } finally {
      if (--this.#commits === 0) this.#drained?.();
    }
  }

  async #sweepUnlocked(): Promise<string[]> {
    const sql = this.#db.sql;
    const owned = new Set(
      (sql.prepare(
        "SELECT digest FROM content UNION SELECT expected FROM ingests WHERE expected != ''",
      ).all() as { digest: string }[]).map((row) => row.digest),
    );
    const orphans: string[] = [];
    for await (const blob of this.#blobs.walk()) {
      if (!owned.has(blob.digest)) orphans.push(blob.digest);
    }
    const removed: string[] = [];
    for (const digest of orphans) {
      await this.#blobs.delete(digest).then(
        () => removed.push(digest),
        (err) => {
          if (!BerthError.is(err, Code.NotFound)) throw err;
        },
      );
    }
    const recorded = new Set(
      (sql.prepare("SELECT backend_ref FROM ingests").all() as {
        backend_ref: string;
      }[]).map((row) => row.backend_ref),
    );
    for (const ref of await this.#blobs.ingestRefs()) {
      if (recorded.has(ref)) continue;
      // A locked ingest is being written right now: leave it for next time.
      await this.#blobs.abort(ref).catch(() => {});
    }
    return removed;
  }

  #namespacedWriter(
    namespace: string,
    row: IngestRow,
    lease: string | undefined,
    inner: ContentWriter | undefined,
  ): NamespacedWriter {
    const db = this.#db;
    const blobs = this.#blobs;
    const leases = this.#leases;
    const namespaces = this.#namespaces;
    const guardCommit = <T>(commit: () => Promise<T>) =>
      this.#guardCommit(commit);
    const statusOf = (ingest: IngestRow) => this.#status(ingest);
    const finish = (
      digest: string,
      size: number,
      labels: Record<string, string>,
    ) =>
      db.transaction(() => {
        namespaces.ensure(namespace);
        db.sql.prepare(
          "DELETE FROM ingests WHERE namespace = ? AND ref = ?",
        )
          .run(namespace, row.ref);
        leases.release(namespace, lease, {
          type: "ingests",
          id: row.ref,
        });
        leases.hold(namespace, lease, { type: "content", id: digest });
        const now = nanosOf(timestampNow());
        const result = db.sql.prepare(
          "INSERT INTO content (namespace, digest, size, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ).run(namespace, digest, size, JSON.stringify(labels), now, now);
        return result.changes > 0;
      });
    return {
      async status() {
        return inner
          ? { ...inner.status(), ref: row.ref }
          : await statusOf(row);
      },
      digest() {
        return inner ? inner.digest() : row.expected;
      },
      async write(data) {
        if (!inner) {
          if (data.length === 0) return;
          throw new BerthError(
            Code.OutOfRange,
            `write of ${data.length} bytes past total ${row.total}`,
          );
        }
        await inner.write(data);
      },
      async truncate(size) {
        if (size !== 0) {
          throw invalidArgument("truncate is only supported to 0");
        }
        if (inner) return await inner.truncate(0);
        // The shared blob is rewritten after all: start a real ingest,
        // from nothing even if a crashed writer left bytes under its ref.
        inner = await blobs.writer({
          ref: row.backend_ref,
          total: row.total,
        });
        await inner.truncate(0);
        db.sql.prepare(
          "UPDATE ingests SET shared = 0 WHERE namespace = ? AND ref = ?",
        ).run(namespace, row.ref);
      },
      commit({ size = 0, expected = "", labels = {} }) {
        validateLabels("content", labels);
        if (expected) validateDigest(expected);
        return guardCommit(async () => {
          if (!inner) {
            if (size > 0 && size !== row.total) {
              throw failedPrecondition(
                `unexpected commit size ${size}, expected ${row.total}`,
              );
            }
            if (expected && expected !== row.expected) {
              throw failedPrecondition(
                `unexpected commit digest ${row.expected}, expected ${expected}`,
              );
            }
            crashPoint("content-commit");
            if (!finish(row.expected, row.total, labels)) {
              throw alreadyExists(`content ${row.expected}`);
            }
            return row.expected;
          }
          const committedSize = inner.status().offset;
          const pending = inner.digest();
          let digest: string;
          try {
            digest = await inner.commit({
              size,
              expected: expected || row.expected || undefined,
            });
          } catch (err) {
            if (!BerthError.is(err, Code.AlreadyExists)) {
              // Lost data makes the blob store drop the ingest: so does the
              // record. Other failures (a size or digest mismatch too) leave
              // both for a retry, as containerd does.
              if (BerthError.is(err, Code.DataLoss)) {
                db.sql.prepare(
                  "DELETE FROM ingests WHERE namespace = ? AND ref = ?",
                ).run(namespace, row.ref);
              }
              throw err;
            }
            digest = pending;
          }
          crashPoint("content-commit");
          if (!finish(digest, committedSize, labels)) {
            throw alreadyExists(`content ${digest}`);
          }
          return digest;
        });
      },
      async close() {
        await inner?.close();
      },
    };
  }
}
