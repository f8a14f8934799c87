/**
 * One SQLite file (`node:sqlite`) in WAL mode, its schema brought up to date
 * by ordered migrations counted in `PRAGMA user_version`, and transactions
 * that nest by joining the outermost one.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** One schema step; `version` counts from 1 and never changes once shipped. */
export interface Migration {
  /** The schema version this step produces. */
  version: number;
  /** SQL statements that take the schema from `version - 1` to `version`. */
  sql: string;
}

/** Options of {@linkcode SqliteDatabase.open}. */
export interface SqliteOpenOptions {
  /** The schema, oldest step first. Append new steps; never edit old ones. */
  migrations: readonly Migration[];
  /**
   * What the file holds, for the error refusing a newer schema
   * (`NAME schema version 9 is newer than this berth understands (3)`);
   * default `database`.
   */
  name?: string;
  /** Permission bits the file gets once open (`0o600`); default untouched. */
  mode?: number;
}

const PRAGMAS = [
  // One connection holds the file from its first access until it closes,
  // as containerd's bolt file is held: another one can neither read nor
  // write it ("database is locked"), so what the stores keep in memory
  // (found containers, owned blobs, Get answers) cannot go stale behind
  // their backs. Set before WAL: the WAL index lives in this connection's
  // memory, with no -shm file and no lock calls per read.
  "PRAGMA locking_mode = EXCLUSIVE",
  "PRAGMA journal_mode = WAL",
  "PRAGMA synchronous = NORMAL",
  "PRAGMA foreign_keys = ON",
  "PRAGMA busy_timeout = 5000",
];

/** Statements kept compiled; past this many the cache starts over. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * A connection that compiles each SQL text once. Every query of the stores
 * calls `prepare`: compiling anew cost tens of microseconds per RPC and left
 * a native statement per call for the collector to find.
 */
class CachingDatabase extends DatabaseSync {
  #statements = new Map<string, StatementSync>();

  /** The compiled statement for `sql`, from the cache when it is there. */
  override prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        this.#statements.clear();
      }
      statement = super.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Drops the compiled statements, then closes. */
  override close(): void {
    this.#statements.clear();
    super.close();
  }
}

/** An open, migrated database. */
export class SqliteDatabase {
  /** The underlying connection, for the stores built on it. */
  readonly sql: DatabaseSync;
  #depth = 0;
  #transactions = 0;
  #commitListeners: (() => void)[] = [];
  #changes: StatementSync | undefined;

  /**
   * Opens (creating when missing) and migrates the file at `path`; the
   * connection is closed again when that fails. Use
   * {@linkcode SqliteDatabase.open}, or `new` in a subclass.
   */
  protected constructor(path: string, options: SqliteOpenOptions) {
    this.sql = new CachingDatabase(path);
    try {
      if (options.mode !== undefined) Deno.chmodSync(path, options.mode);
      for (const pragma of PRAGMAS) this.sql.exec(pragma);
      this.#migrate(options.name ?? "database", options.migrations);
    } catch (err) {
      this.sql.close();
      throw err;
    }
  }

  /**
   * Opens (creating when missing) the database at `path` and applies the
   * migrations it has not seen.
   *
   * @throws {Error} when the file's schema is newer than the last migration.
   */
  static open(path: string, options: SqliteOpenOptions): SqliteDatabase {
    return new SqliteDatabase(path, options);
  }

  /** The schema version on disk. */
  get schemaVersion(): number {
    const row = this.sql.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    return row.user_version;
  }

  #migrate(name: string, migrations: readonly Migration[]) {
    const current = this.schemaVersion;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `${name} schema version ${current} is newer than this berth understands (${latest})`,
      );
    }
    for (const step of migrations) {
      if (step.version <= current) continue;
      this.transaction(() => {
        this.sql.exec(step.sql);
        this.sql.exec(`PRAGMA user_version = ${step.version}`);
      });
    }
  }

  /**
   * How many transactions were begun. What was read outside of one stays
   * true while this count stands still, as far as rows that are only
   * changed inside transactions go.
   */
  get transactions(): number {
    return this.#transactions;
  }

  /**
   * Calls `listener` after every transaction that committed changes to
   * rows (unless run `silent`).
   */
  onCommit(listener: () => void): void {
    this.#commitListeners.push(listener);
  }

  /**
   * Runs `fn` in one `BEGIN IMMEDIATE` transaction: committed when it
   * returns, rolled back when it throws. Nested calls join the outer
   * transaction. A `silent` one tells no commit listener.
   */
  transaction<T>(fn: () => T, options: { silent?: boolean } = {}): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return fn();
      } finally {
        this.#depth--;
      }
    }
    const listen = !options.silent && this.#commitListeners.length > 0;
    const before = listen ? this.#totalChanges() : 0;
    this.#transactions++;
    this.sql.exec("BEGIN IMMEDIATE");
    this.#depth = 1;
    let result: T;
    try {
      result = fn();
      this.sql.exec("COMMIT");
    } catch (err) {
      if (this.sql.isTransaction) this.sql.exec("ROLLBACK");
      throw err;
    } finally {
      this.#depth = 0;
    }
    if (listen && this.#totalChanges() !== before) {
      for (const listener of this.#commitListeners) listener();
    }
    return result;
  }

  /** Rows changed through this connection since it opened. */
  #totalChanges(): number {
    this.#changes ??= this.sql.prepare("SELECT total_changes() AS n");
    return (this.#changes.get() as { n: number }).n;
  }

  /** Closes the connection; closing twice is harmless. */
  close(): void {
    if (this.sql.isOpen) this.sql.close();
  }
}
