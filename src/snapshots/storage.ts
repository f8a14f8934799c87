/**
 * A backend snapshotter's own records, like containerd's snapshot
 * metastore: keys, numeric ids (the names of the directories on disk),
 * parents, kinds, labels, times and the usage recorded at commit, in one
 * SQLite file (`node:sqlite`, WAL) in the snapshotter's root.
 *
 * Every method is synchronous and runs in one transaction, so it is atomic
 * with respect to other JavaScript; {@linkcode MetaStore.transaction} joins
 * several, and lets a caller do synchronous file system work (a rename)
 * inside one. Ids come from a sequence committed on its own
 * ({@linkcode MetaStore.allocateId}), so an id is never handed out twice,
 * even after a crash between creating a directory and recording it.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { type Migration, SqliteDatabase } from "../sqlite/mod.ts";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  validateLabels,
} from "../types/mod.ts";
import { fieldsAdaptor, parseFilters } from "../filters/mod.ts";
import {
  SNAPSHOT_KIND_WIRE,
  type SnapshotInfo,
  type SnapshotKind,
  snapshotKindFromWire,
  type SnapshotUpdate,
  type Usage,
} from "./snapshotter.ts";

/** The schema, oldest step first. Append new steps; never edit old ones. */
export const STORAGE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),
        parent INTEGER REFERENCES snapshots(id),
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        inodes INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX snapshots_by_parent ON snapshots(parent);
      CREATE TABLE sequence (last_id INTEGER NOT NULL) STRICT;
      INSERT INTO sequence (last_id) VALUES (0);
    `,
  },
];

/** What the snapshotter needs to mount an active snapshot or view. */
export interface SnapshotRecord {
  /** The id: the snapshot's directory name. */
  id: string;
  /** Active or view. */
  kind: SnapshotKind;
  /** Ids of the parent chain, nearest first. */
  parentIds: string[];
}

/** A snapshot's info with its id and recorded usage. */
export interface StoredSnapshot {
  /** The id: the snapshot's directory name. */
  id: string;
  /** Its info. */
  info: SnapshotInfo;
  /** The usage recorded at commit; zero before. */
  usage: Usage;
}

/** Options of {@linkcode MetaStore.createSnapshot}. */
export interface CreateSnapshotOptions {
  /** Active or view. */
  kind: SnapshotKind;
  /** The new snapshot's key. */
  key: string;
  /** The committed parent's name; "" or absent for none. */
  parent?: string;
  /** The id from {@linkcode MetaStore.allocateId}. */
  id: string;
  /** Its labels. */
  labels?: Record<string, string>;
}

/** Options of {@linkcode MetaStore.commitActive}. */
export interface CommitActiveOptions {
  /** The active snapshot's key. */
  key: string;
  /** The committed snapshot's name. */
  name: string;
  /** Its usage, measured before. */
  usage: Usage;
  /** Its labels; the key's are not inherited. */
  labels?: Record<string, string>;
}

interface Row {
  id: number;
  key: string;
  kind: number;
  parent: number | null;
  parent_key: string | null;
  labels: string;
  created_at: number;
  updated_at: number;
  size: number;
  inodes: number;
}

const SELECT_ROW = `
  SELECT s.id, s.key, s.kind, s.parent, p.key AS parent_key, s.labels, s.created_at,
         s.updated_at, s.size, s.inodes
  FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent`;

/** The records of one backend snapshotter. */
export class MetaStore {
  #db: SqliteDatabase;
  #statements = new Map<string, StatementSync>();

  private constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** Opens (creating when missing, mode 0600) and migrates the file at `path`. */
  static open(path: string): MetaStore {
    return new MetaStore(
      SqliteDatabase.open(path, {
        name: "snapshot metadata",
        migrations: STORAGE_MIGRATIONS,
        mode: 0o600,
      }),
    );
  }

  #prepare(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.sql.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in one transaction: committed when it returns, rolled back
   * when it throws. Nested calls join the outer transaction.
   */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn);
  }

  /**
   * A fresh id, larger than every one before. It is committed at once (or
   * with the enclosing transaction), so ids of failed or interrupted
   * creations are skipped, never reused.
   */
  allocateId(): string {
    return this.transaction(() => {
      const row = this.#prepare(
        "UPDATE sequence SET last_id = last_id + 1 RETURNING last_id",
      ).get() as { last_id: number };
      return String(row.last_id);
    });
  }

  #row(key: string): Row | undefined {
    return this.#prepare(`${SELECT_ROW} WHERE s.key = ?`).get(key) as
      | Row
      | undefined;
  }

  #parentIds(id: number): string[] {
    const rows = this.#prepare(`
      WITH RECURSIVE chain(id, parent, depth) AS (
        SELECT id, parent, 0 FROM snapshots WHERE id = ?
        UNION ALL
        SELECT s.id, s.parent, c.depth + 1
        FROM snapshots s JOIN chain c ON s.id = c.parent
      )
      SELECT id FROM chain ORDER BY depth`).all(id) as { id: number }[];
    return rows.map((row) => String(row.id));
  }

  /** The snapshot with `key`; NotFound `snapshot KEY does not exist`. */
  getInfo(key: string): StoredSnapshot {
    const row = this.#row(key);
    if (!row) throw notFound(`snapshot ${key} does not exist`);
    return toStored(row);
  }

  /**
   * The id, kind and parent chain of active snapshot or view `key`;
   * FailedPrecondition for a committed one.
   */
  getSnapshot(key: string): SnapshotRecord {
    const row = this.#row(key);
    if (!row) throw notFound(`snapshot ${key} does not exist`);
    const kind = snapshotKindFromWire(row.kind);
    if (kind === "committed") {
      throw failedPrecondition(`requested snapshot ${key} not active or view`);
    }
    return {
      id: String(row.id),
      kind,
      parentIds: row.parent === null ? [] : this.#parentIds(row.parent),
    };
  }

  /**
   * Checks that `key` is free and `parent` committed, without writing:
   * what {@linkcode createSnapshot} would reject, it rejects the same way.
   * Returns the parent chain's ids, nearest first.
   */
  checkCreate(key: string, parent = ""): string[] {
    if (key === "") throw invalidArgument("snapshot key must not be empty");
    let parentIds: string[] = [];
    if (parent !== "") {
      const row = this.#row(parent);
      if (!row) throw notFound(`missing parent ${JSON.stringify(parent)}`);
      if (row.kind !== SNAPSHOT_KIND_WIRE.committed) {
        throw invalidArgument(
          `parent ${JSON.stringify(parent)} is not committed snapshot`,
        );
      }
      parentIds = this.#parentIds(row.id);
    }
    if (this.#row(key)) throw alreadyExists(`snapshot ${key}`);
    return parentIds;
  }

  /** Records a new active snapshot or view; returns what mounts it. */
  createSnapshot(options: CreateSnapshotOptions): SnapshotRecord {
    const { kind, key, id } = options;
    if (kind === "committed") {
      throw invalidArgument(
        `snapshot type ${kind} invalid; only snapshots of type Active or View can be created`,
      );
    }
    const labels = cleanLabels(options.labels);
    return this.transaction(() => {
      const parentIds = this.checkCreate(key, options.parent);
      const now = Date.now();
      this.#prepare(`
        INSERT INTO snapshots (id, key, kind, parent, labels, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
        Number(id),
        key,
        SNAPSHOT_KIND_WIRE[kind],
        parentIds.length ? Number(parentIds[0]) : null,
        JSON.stringify(labels),
        now,
        now,
      );
      return { id, kind, parentIds };
    });
  }

  /** Updates labels as {@linkcode Snapshotter.update} describes. */
  updateInfo(
    update: SnapshotUpdate,
    paths: readonly string[] = [],
  ): StoredSnapshot {
    return this.transaction(() => {
      const row = this.#row(update.name);
      if (!row) throw notFound(`snapshot ${update.name} does not exist`);
      let labels: Record<string, string> = JSON.parse(row.labels);
      const given = update.labels ?? {};
      if (paths.length === 0) labels = { ...given };
      for (const path of paths) {
        if (path.startsWith("labels.")) {
          const key = path.slice("labels.".length);
          if (Object.hasOwn(given, key)) labels[key] = given[key];
          else delete labels[key];
        } else if (path === "labels") {
          labels = { ...given };
        } else {
          throw invalidArgument(
            `cannot update ${JSON.stringify(path)} field on snapshot ${
              JSON.stringify(update.name)
            }`,
          );
        }
      }
      labels = cleanLabels(labels);
      const now = Date.now();
      this.#prepare(
        "UPDATE snapshots SET labels = ?, updated_at = ? WHERE id = ?",
      ).run(JSON.stringify(labels), now, row.id);
      return this.getInfo(update.name);
    });
  }

  /** Snapshots matching any of `filters`, ordered by key. */
  walkInfo(filters: readonly string[] = []): StoredSnapshot[] {
    const filter = parseFilters(filters);
    const rows = this.#prepare(`${SELECT_ROW} ORDER BY s.key`)
      .all() as unknown as Row[];
    return rows.map(toStored).filter(({ info }) =>
      filter.match(fieldsAdaptor({
        kind: info.kind,
        name: info.name,
        parent: info.parent,
        labels: info.labels,
      }))
    );
  }

  /**
   * Turns active snapshot `key` into committed `name` with the same id;
   * its creation time is now and its labels are the given ones.
   */
  commitActive(options: CommitActiveOptions): string {
    const { key, name, usage } = options;
    if (name === "") throw invalidArgument("snapshot name must not be empty");
    const labels = cleanLabels(options.labels);
    return this.transaction(() => {
      if (this.#row(name)) throw alreadyExists(`committed snapshot ${name}`);
      const row = this.#row(key);
      if (!row) {
        throw notFound(`failed to get active snapshot ${JSON.stringify(key)}`);
      }
      if (row.kind !== SNAPSHOT_KIND_WIRE.active) {
        throw failedPrecondition(
          `snapshot ${JSON.stringify(key)} is not active`,
        );
      }
      const now = Date.now();
      this.#prepare(`
        UPDATE snapshots SET key = ?, kind = ?, labels = ?, created_at = ?,
          updated_at = ?, size = ?, inodes = ?
        WHERE id = ?`).run(
        name,
        SNAPSHOT_KIND_WIRE.committed,
        JSON.stringify(labels),
        now,
        now,
        usage.size,
        usage.inodes,
        row.id,
      );
      return String(row.id);
    });
  }

  /**
   * Deletes snapshot `key`; returns its id and kind. FailedPrecondition
   * while another snapshot has it as parent.
   */
  remove(key: string): { id: string; kind: SnapshotKind } {
    return this.transaction(() => {
      const row = this.#row(key);
      if (!row) throw notFound(`snapshot ${key}`);
      const child = this.#prepare(
        "SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1",
      ).get(row.id);
      if (child) throw failedPrecondition("cannot remove snapshot with child");
      this.#prepare("DELETE FROM snapshots WHERE id = ?").run(row.id);
      return { id: String(row.id), kind: snapshotKindFromWire(row.kind) };
    });
  }

  /** Every recorded id, mapped to its key. */
  idMap(): Map<string, string> {
    const rows = this.#prepare("SELECT id, key FROM snapshots").all() as {
      id: number;
      key: string;
    }[];
    return new Map(rows.map((row) => [String(row.id), row.key]));
  }

  /** Closes the file. */
  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}

function toStored(row: Row): StoredSnapshot {
  return {
    id: String(row.id),
    info: toInfo(row),
    usage: { size: row.size, inodes: row.inodes },
  };
}

function toInfo(row: Row): SnapshotInfo {
  return {
    kind: snapshotKindFromWire(row.kind),
    name: row.key,
    parent: row.parent_key ?? "",
    labels: JSON.parse(row.labels),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** A copy of `labels` without empty values, validated. */
function cleanLabels(
  labels: Record<string, string> | undefined,
): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (value !== "" && value !== undefined) clean[key] = value;
  }
  validateLabels("info", clean);
  return clean;
}
