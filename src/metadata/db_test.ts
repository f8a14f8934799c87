import assert from "node:assert/strict";
import { MetadataDB, MIGRATIONS, nextSequence } from "./db.ts";

Deno.test("MetadataDB applies the built-in schema", () => {
  const db = MetadataDB.open(":memory:");
  try {
    assert.equal(db.schemaVersion, MIGRATIONS.at(-1)!.version);
    const [a1, a2, b1] = db.transaction(() => [
      nextSequence(db, "a"),
      nextSequence(db, "a"),
      nextSequence(db, "b"),
    ]);
    assert.deepEqual([a1, a2, b1], [1, 2, 1]);
  } finally {
    db.close();
  }
});

Deno.test("MetadataDB refuses a newer schema", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/meta.db`;
    MetadataDB.open(path).close();
    assert.throws(
      () => MetadataDB.open(path, { migrations: [] }),
      /^Error: metadata schema version \d+ is newer than this berth understands \(0\)$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MetadataDB reports each committed mutation and whether it is dirty", () => {
  const db = MetadataDB.open(":memory:");
  try {
    const seen: boolean[] = [];
    db.onMutation((dirty) => seen.push(dirty));
    const insert = (name: string) =>
      db.sql.prepare(
        "INSERT INTO namespaces (name, labels, created_at) VALUES (?, '{}', 0)",
      ).run(name);
    db.transaction(() => insert("a"));
    // Reads and rolled-back writes are no mutations.
    db.transaction(() => db.sql.prepare("SELECT * FROM namespaces").all());
    assert.throws(() =>
      db.transaction(() => {
        insert("b");
        throw new Error("rolled back");
      })
    );
    // Nested transactions report once, at the outer commit.
    db.transaction(() => {
      db.transaction(() => insert("c"));
      db.sql.prepare("DELETE FROM namespaces WHERE name = 'a'").run();
      db.markDirty();
    });
    db.transaction(() => insert("d"));
    assert.deepEqual(seen, [false, true, true]);
    // The collector's transaction clears the mark and is no mutation.
    db.collection(() =>
      db.sql.prepare("DELETE FROM namespaces WHERE name = 'c'").run()
    );
    db.transaction(() => insert("e"));
    assert.deepEqual(seen, [false, true, true, false]);
  } finally {
    db.close();
  }
});

Deno.test("MetadataDB moves millisecond timestamps to nanoseconds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/meta.db`;
    const old = MetadataDB.open(path, {
      migrations: MIGRATIONS.filter((m) => m.version < 8),
    });
    old.sql.exec(`
      INSERT INTO namespaces (name, labels, created_at) VALUES ('ns', '{}', 1765065600123);
      INSERT INTO leases (namespace, id, labels, created_at) VALUES ('ns', 'l', '{}', 1765065600456);
      INSERT INTO images (namespace, name, labels, target, created_at, updated_at)
        VALUES ('ns', 'img', '{}', '{}', 1765065600001, 1765065600002);
    `);
    old.close();
    const db = MetadataDB.open(path);
    try {
      const times = db.sql.prepare(`
        SELECT CAST(created_at AS TEXT) AS t FROM namespaces
        UNION ALL SELECT CAST(created_at AS TEXT) FROM leases
        UNION ALL SELECT CAST(created_at AS TEXT) FROM images
        UNION ALL SELECT CAST(updated_at AS TEXT) FROM images`).all()
        .map((row) => (row as { t: string }).t);
      assert.deepEqual(times, [
        "1765065600123000000",
        "1765065600456000000",
        "1765065600001000000",
        "1765065600002000000",
      ]);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
