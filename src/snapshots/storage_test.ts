import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BerthError, Code } from "../types/mod.ts";
import { MetaStore, STORAGE_MIGRATIONS } from "./storage.ts";
import { withTempDir } from "./_testing.ts";

async function withStore(fn: (store: MetaStore, path: string) => void) {
  await withTempDir((dir) => {
    const path = join(dir, "metadata.db");
    const store = MetaStore.open(path);
    try {
      fn(store, path);
    } finally {
      store.close();
    }
    return Promise.resolve();
  });
}

const usage = { size: 4096, inodes: 2 };

Deno.test("MetaStore records parent chains, nearest first", () =>
  withStore((store) => {
    let parent = "";
    for (const name of ["l1", "l2", "l3"]) {
      const id = store.allocateId();
      const record = store.createSnapshot({
        kind: "active",
        key: `${name}-key`,
        parent,
        id,
      });
      assert.equal(record.id, id);
      store.commitActive({ key: `${name}-key`, name, usage });
      parent = name;
    }
    const record = store.createSnapshot({
      kind: "view",
      key: "v",
      parent: "l3",
      id: store.allocateId(),
    });
    assert.deepEqual(record, {
      id: "4",
      kind: "view",
      parentIds: ["3", "2", "1"],
    });
    assert.deepEqual(store.getSnapshot("v"), record);
    const l3 = store.getInfo("l3");
    assert.equal(l3.id, "3");
    assert.equal(l3.info.parent, "l2");
    assert.deepEqual(l3.usage, usage);
    assert.deepEqual(
      store.idMap(),
      new Map([["1", "l1"], ["2", "l2"], ["3", "l3"], ["4", "v"]]),
    );
  }));

Deno.test("MetaStore ids grow across failures and reopening", () =>
  withTempDir((dir) => {
    const path = join(dir, "metadata.db");
    let store = MetaStore.open(path);
    assert.equal(store.allocateId(), "1");
    assert.throws(
      () =>
        store.transaction(() => {
          assert.equal(store.allocateId(), "2");
          throw new Error("rolled back");
        }),
      /rolled back/,
    );
    assert.equal(store.allocateId(), "2");
    store.close();
    store = MetaStore.open(path);
    assert.equal(store.allocateId(), "3");
    store.close();
    const db = new DatabaseSync(path);
    const { user_version } = db.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    const { journal_mode } = db.prepare("PRAGMA journal_mode").get() as {
      journal_mode: string;
    };
    db.close();
    assert.equal(user_version, STORAGE_MIGRATIONS.at(-1)!.version);
    assert.equal(journal_mode, "wal");
    return Promise.resolve();
  }));

Deno.test("MetaStore refuses a newer schema", () =>
  withTempDir((dir) => {
    const path = join(dir, "metadata.db");
    const db = new DatabaseSync(path);
    db.exec("PRAGMA user_version = 999");
    db.close();
    assert.throws(() => MetaStore.open(path), /newer than this berth/);
    return Promise.resolve();
  }));

Deno.test("MetaStore creates only active snapshots and views", () =>
  withStore((store) => {
    assert.throws(
      () =>
        store.createSnapshot({
          kind: "committed",
          key: "c",
          id: store.allocateId(),
        }),
      (err) => BerthError.is(err, Code.InvalidArgument),
    );
  }));

Deno.test("MetaStore walks in key byte order", () =>
  withStore((store) => {
    for (const key of ["b", "a", "B", "é", "a.b"]) {
      store.createSnapshot({ kind: "active", key, id: store.allocateId() });
    }
    assert.deepEqual(
      store.walkInfo().map(({ info }) => info.name),
      ["B", "a", "a.b", "b", "é"],
    );
  }));

Deno.test("MetaStore commit keeps the id and replaces times and labels", () =>
  withStore((store) => {
    store.createSnapshot({
      kind: "active",
      key: "k",
      id: store.allocateId(),
      labels: { a: "1" },
    });
    const id = store.commitActive({
      key: "k",
      name: "n",
      usage,
      labels: { b: "2" },
    });
    assert.equal(id, "1");
    const { info } = store.getInfo("n");
    assert.equal(info.kind, "committed");
    assert.deepEqual(info.labels, { b: "2" });
    assert.throws(
      () => store.getInfo("k"),
      (err) => BerthError.is(err, Code.NotFound),
    );
  }));
