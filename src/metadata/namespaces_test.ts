import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { MetadataDB } from "./db.ts";
import { NamespaceStore } from "./namespaces.ts";

function withStore(fn: (store: NamespaceStore, db: MetadataDB) => void) {
  return () => {
    const db = MetadataDB.open(":memory:");
    try {
      fn(new NamespaceStore(db), db);
    } finally {
      db.close();
    }
  };
}

function assertCode(fn: () => unknown, code: Code, message?: RegExp) {
  assert.throws(fn, (err) => {
    assert.ok(BerthError.is(err, code), `expected ${Code[code]}, got ${err}`);
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

Deno.test(
  "namespaces: create, get, list, update and delete",
  withStore((store) => {
    store.create({ name: "b", labels: { x: "1" } });
    store.create({ name: "a", labels: {} });
    assert.deepEqual(store.get("b"), { name: "b", labels: { x: "1" } });
    assert.deepEqual(store.list().map((ns) => ns.name), ["a", "b"]);
    store.update({ name: "b", labels: { y: "2" } }, ["labels.y"]);
    assert.deepEqual(store.get("b").labels, { x: "1", y: "2" });
    store.update({ name: "b", labels: {} }, ["labels.x"]);
    assert.deepEqual(store.get("b").labels, { y: "2" });
    store.update({ name: "b", labels: { z: "3" } });
    assert.deepEqual(store.get("b").labels, { z: "3" });
    store.delete("b");
    assert.deepEqual(store.list().map((ns) => ns.name), ["a"]);
    assertCode(
      () => store.delete("b"),
      Code.NotFound,
      /namespace "b": not found/,
    );
  }),
);

Deno.test(
  "namespaces: bad input is refused and changes nothing",
  withStore((store) => {
    store.create({ name: "a", labels: {} });
    assertCode(
      () => store.create({ name: "a", labels: {} }),
      Code.AlreadyExists,
    );
    assertCode(
      () => store.create({ name: "../x", labels: {} }),
      Code.InvalidArgument,
    );
    assertCode(
      () => store.create({ name: "big", labels: { k: "v".repeat(5000) } }),
      Code.InvalidArgument,
      /namespace.Labels: label key and value greater than maximum size/,
    );
    assertCode(
      () => store.update({ name: "a", labels: {} }, ["name"]),
      Code.InvalidArgument,
    );
    assertCode(
      () => store.update({ name: "../x", labels: { k: "v" } }),
      Code.InvalidArgument,
    );
    assertCode(() => store.delete("nope"), Code.NotFound);
    assert.deepEqual(store.list().map((ns) => ns.name), ["a"]);
  }),
);

Deno.test(
  "namespaces: delete refuses a namespace that still holds objects",
  withStore((store) => {
    store.create({ name: "busy", labels: {} });
    store.addContentCheck((ns) => ns === "busy" ? "images" : undefined);
    store.addContentCheck(() => undefined);
    assertCode(
      () => store.delete("busy"),
      Code.FailedPrecondition,
      /namespace "busy" must be empty, but it still has images/,
    );
    assert.equal(store.get("busy").name, "busy");
  }),
);

Deno.test(
  "namespaces come into being on use, as in containerd",
  withStore((store) => {
    // Reading one that does not exist answers empty labels, creating nothing.
    assert.deepEqual(store.get("fresh"), { name: "fresh", labels: {} });
    assert.deepEqual(store.list(), []);
    // Replacing no labels with none creates nothing either.
    store.update({ name: "fresh", labels: {} });
    assert.deepEqual(store.list(), []);
    // Setting a label creates it.
    const key = "containerd.io/defaults/snapshotter";
    store.update({ name: "fresh", labels: { [key]: "overlayfs" } }, [
      `labels.${key}`,
    ]);
    assert.deepEqual(store.list(), [
      { name: "fresh", labels: { [key]: "overlayfs" } },
    ]);
    // So does clearing one, and replacing all.
    store.update({ name: "other", labels: {} }, ["labels.x"]);
    store.update({ name: "third", labels: { y: "1" } });
    assert.deepEqual(store.list().map((ns) => [ns.name, ns.labels]), [
      ["fresh", { [key]: "overlayfs" }],
      ["other", {}],
      ["third", { y: "1" }],
    ]);
  }),
);
