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
    assertCode(() => store.get("b"), Code.NotFound, /namespace "b": not found/);
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
    assertCode(() => store.update({ name: "nope", labels: {} }), Code.NotFound);
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
