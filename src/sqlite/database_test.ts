import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type Migration, SqliteDatabase } from "./database.ts";

const MIGRATIONS: readonly Migration[] = [
  { version: 1, sql: "CREATE TABLE a (x INTEGER NOT NULL) STRICT;" },
  { version: 2, sql: "CREATE TABLE b (y TEXT NOT NULL) STRICT;" },
];

async function withDir(fn: (dir: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function count(db: SqliteDatabase, table: string): number {
  const row = db.sql.prepare(`SELECT count(*) AS n FROM ${table}`).get() as {
    n: number;
  };
  return row.n;
}

Deno.test("migrations run once and record the schema version", () =>
  withDir((dir) => {
    const path = `${dir}/meta.db`;
    const first = SqliteDatabase.open(path, {
      migrations: MIGRATIONS.slice(0, 1),
    });
    assert.equal(first.schemaVersion, 1);
    first.close();
    // Only the new step runs: creating table `a` again would fail.
    const again = SqliteDatabase.open(path, { migrations: MIGRATIONS });
    assert.equal(again.schemaVersion, 2);
    assert.equal(count(again, "b"), 0);
    const mode = again.sql.prepare("PRAGMA journal_mode").get() as {
      journal_mode: string;
    };
    assert.equal(mode.journal_mode, "wal");
    const keys = again.sql.prepare("PRAGMA foreign_keys").get() as {
      foreign_keys: number;
    };
    assert.equal(keys.foreign_keys, 1);
    again.close();
    again.close();
    assert.throws(
      () => SqliteDatabase.open(path, { migrations: [], name: "test" }),
      /^Error: test schema version 2 is newer than this berth understands \(0\)$/,
    );
  }));

Deno.test("a failed migration leaves the older schema in place", () =>
  withDir((dir) => {
    const path = `${dir}/meta.db`;
    const broken = [...MIGRATIONS, { version: 3, sql: "CREATE TABLE a (z);" }];
    assert.throws(
      () => SqliteDatabase.open(path, { migrations: broken }),
      /already exists/,
    );
    const raw = new DatabaseSync(path);
    const row = raw.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    raw.close();
    assert.equal(row.user_version, 2);
  }));

Deno.test("open sets the file's mode when asked", () =>
  withDir((dir) => {
    const path = `${dir}/meta.db`;
    Deno.writeFileSync(path, new Uint8Array(), { mode: 0o644 });
    Deno.chmodSync(path, 0o644);
    SqliteDatabase.open(path, { migrations: MIGRATIONS, mode: 0o600 }).close();
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  }));

Deno.test("transactions commit, roll back, and nest by joining", () => {
  const db = SqliteDatabase.open(":memory:", { migrations: MIGRATIONS });
  try {
    const insert = db.sql.prepare("INSERT INTO a (x) VALUES (?)");
    assert.equal(db.transaction(() => insert.run(1).changes), 1);
    assert.throws(
      () =>
        db.transaction(() => {
          insert.run(2);
          throw new Error("rolled back");
        }),
      /rolled back/,
    );
    assert.equal(count(db, "a"), 1);
    db.transaction(() => {
      insert.run(3);
      assert.throws(() =>
        db.transaction(() => {
          insert.run(4);
          assert.equal(db.sql.isTransaction, true);
          throw new Error("inner");
        }), /inner/);
      // The inner call joined this transaction: its row stays with it.
      assert.equal(count(db, "a"), 3);
    });
    assert.equal(db.sql.isTransaction, false);
    assert.equal(count(db, "a"), 3);
    assert.throws(
      () =>
        db.transaction(() => {
          db.transaction(() => insert.run(5));
          throw new Error("outer");
        }),
      /outer/,
    );
    assert.equal(count(db, "a"), 3);
  } finally {
    db.close();
  }
});

Deno.test("another connection can neither read nor write an open database", () =>
  withDir((dir) => {
    const path = `${dir}/meta.db`;
    const db = SqliteDatabase.open(path, { migrations: MIGRATIONS });
    const other = new DatabaseSync(path);
    try {
      other.exec("PRAGMA busy_timeout = 10");
      assert.throws(
        () => other.prepare("SELECT count(*) FROM a").get(),
        /database is locked/,
      );
      assert.throws(
        () => other.exec("INSERT INTO a (x) VALUES (1)"),
        /database is locked/,
      );
      db.transaction(() =>
        db.sql.prepare("INSERT INTO a (x) VALUES (2)").run()
      );
      assert.equal(count(db, "a"), 1);
      assert.equal(Deno.statSync(path + "-wal").isFile, true);
      assert.throws(() => Deno.statSync(path + "-shm"), Deno.errors.NotFound);
      db.close();
      // Closed, its rows are there for the next connection.
      const row = other.prepare("SELECT x FROM a").get() as { x: number };
      assert.equal(row.x, 2);
    } finally {
      other.close();
      db.close();
    }
  }));
