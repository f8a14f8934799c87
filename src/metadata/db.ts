/**
 * The metadata database: its schema's migrations, and one
 * {@linkcode SqliteDatabase} holding them, with one transaction per
 * mutation.
 *
 * @module
 */
import { type Migration, SqliteDatabase } from "../sqlite/mod.ts";

/** The schema, oldest step first. Append new steps; never edit old ones. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE leases (
        namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
        id TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT;
      CREATE TABLE lease_resources (
        namespace TEXT NOT NULL,
        lease TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (namespace, lease, type, id),
        FOREIGN KEY (namespace, lease) REFERENCES leases(namespace, id)
          ON DELETE CASCADE
      ) STRICT;
      CREATE TABLE content (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, digest)
      ) STRICT;
      CREATE INDEX content_by_digest ON content(digest);
      CREATE TABLE ingests (
        namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
        ref TEXT NOT NULL,
        backend_ref TEXT NOT NULL,
        expected TEXT NOT NULL DEFAULT '',
        total INTEGER NOT NULL DEFAULT 0,
        shared INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER NOT NULL,
        expires_at INTEGER,
        PRIMARY KEY (namespace, ref)
      ) STRICT;
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE snapshots (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        snapshotter TEXT NOT NULL,
        key TEXT NOT NULL,
        backend_key TEXT NOT NULL UNIQUE,
        parent TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, snapshotter, key)
      ) STRICT;
      CREATE INDEX snapshots_by_parent ON snapshots(namespace, snapshotter, parent);
      CREATE TABLE sequences (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 4,
    sql: `
      CREATE TABLE images (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        name TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        target TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
      ) STRICT;
    `,
  },
  {
    version: 5,
    sql: `
      CREATE TABLE containers (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        id TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        image TEXT NOT NULL DEFAULT '',
        runtime_name TEXT NOT NULL,
        runtime_options_type TEXT,
        runtime_options BLOB,
        spec_type TEXT,
        spec BLOB,
        snapshotter TEXT NOT NULL DEFAULT '',
        snapshot_key TEXT NOT NULL DEFAULT '',
        extensions TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT;
    `,
  },
  {
    version: 6,
    sql: `
      CREATE TABLE netns (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        name TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
      ) STRICT;
      CREATE TABLE network_attachments (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        id TEXT NOT NULL,
        network TEXT NOT NULL,
        netns TEXT NOT NULL DEFAULT '',
        netns_path TEXT NOT NULL,
        ifname TEXT NOT NULL,
        container_id TEXT NOT NULL DEFAULT '',
        port_mappings TEXT NOT NULL DEFAULT '[]',
        result TEXT,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT;
    `,
  },
  {
    version: 7,
    sql: `
      ALTER TABLE network_attachments
        ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    // containerd keeps its timestamps with nanoseconds: so do these columns
    // from here on (they held milliseconds).
    version: 8,
    sql: `
      UPDATE namespaces SET created_at = created_at * 1000000;
      UPDATE leases SET created_at = created_at * 1000000;
      UPDATE content SET created_at = created_at * 1000000,
        updated_at = updated_at * 1000000;
      UPDATE ingests SET started_at = started_at * 1000000;
      UPDATE snapshots SET created_at = created_at * 1000000,
        updated_at = updated_at * 1000000;
      UPDATE images SET created_at = created_at * 1000000,
        updated_at = updated_at * 1000000;
      UPDATE containers SET created_at = created_at * 1000000,
        updated_at = updated_at * 1000000;
    `,
  },
  {
    // The CNI_ARGS an attach carried: a parked attachment's next ADD, and
    // every CHECK and DEL, run with them, also after a restart.
    version: 9,
    sql: `
      ALTER TABLE network_attachments
        ADD COLUMN cni_args TEXT NOT NULL DEFAULT '{}';
    `,
  },
];

/** The next number of the sequence `name` (1, 2, 3 …), inside a transaction. */
export function nextSequence(db: MetadataDB, name: string): number {
  const row = db.sql.prepare(
    "INSERT INTO sequences (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
  ).get(name) as { value: number };
  return row.value;
}

/** Options for {@linkcode MetadataDB.open}. */
export interface OpenOptions {
  /** Migrations to apply; the built-in schema unless given (for tests). */
  migrations?: readonly Migration[];
}

/** The open metadata database. */
export class MetadataDB extends SqliteDatabase {
  /** Whether deletions since the last collection may have left garbage. */
  #dirty = false;

  /**
   * Marks the store dirty: a deletion may have left garbage for the next
   * collection (stores call it as they delete, as containerd's do).
   */
  markDirty(): void {
    this.#dirty = true;
  }

  /**
   * Calls `listener` after every committed mutation, with whether the
   * store is dirty: what containerd's garbage-collection scheduler counts.
   */
  onMutation(listener: (dirty: boolean) => void): void {
    this.onCommit(() => listener(this.#dirty));
  }

  /**
   * Runs the collector's transaction: it clears the dirty mark and is no
   * mutation of its own.
   */
  collection<T>(fn: () => T): T {
    this.#dirty = false;
    return this.transaction(fn, { silent: true });
  }

  /** Opens (creating when missing) and migrates the database at `path`. */
  static override open(path: string, options: OpenOptions = {}): MetadataDB {
    return new MetadataDB(path, {
      name: "metadata",
      migrations: options.migrations ?? MIGRATIONS,
    });
  }
}
