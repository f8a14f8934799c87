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
