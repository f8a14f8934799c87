import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { type ContainerInput, ContainerStore } from "./containers.ts";
import { MetadataDB } from "./db.ts";
import { containerGcSource, metadataGraph } from "./gc.ts";
import { NamespaceStore } from "./namespaces.ts";

interface Fixture {
  db: MetadataDB;
  namespaces: NamespaceStore;
  store: ContainerStore;
}

function withStore(fn: (f: Fixture) => void) {
  return () => {
    const db = MetadataDB.open(":memory:");
    try {
      const namespaces = new NamespaceStore(db);
      fn({ db, namespaces, store: new ContainerStore(db, namespaces) });
    } finally {
      db.close();
    }
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);

const SPEC = {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: bytes('{"ociVersion":"1.0.2"}'),
};

function input(id: string, extra: Partial<ContainerInput> = {}) {
  return {
    id,
    image: "docker.io/library/busybox:latest",
    runtime: { name: "io.containerd.runc.v2" },
    spec: SPEC,
    snapshotter: "overlayfs",
    snapshotKey: id,
    ...extra,
  };
}

function rejects(fn: () => unknown, code: Code, message: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(BerthError.is(err, code), String(err));
    assert.match((err as Error).message, message);
    return true;
  });
}

Deno.test(
  "ContainerStore creates, gets, lists and deletes containers",
  withStore(({ store }) => {
    const created = store.create(
      "default",
      input("c1", {
        labels: { a: "1", empty: "" },
        runtime: {
          name: "io.containerd.runc.v2",
          options: { typeUrl: "x.Options", value: bytes("opts") },
        },
        extensions: { ext: { typeUrl: "x.Ext", value: bytes("e") } },
      }),
    );
    assert.deepEqual(created.labels, { a: "1" });
    assert.equal(created.createdAt.getTime(), created.updatedAt.getTime());
    const got = store.get("default", "c1");
    assert.deepEqual(got, created);
    assert.deepEqual(got.spec, SPEC);
    assert.deepEqual(got.extensions.ext.value, bytes("e"));
    assert.deepEqual(got.runtime.options?.value, bytes("opts"));
    store.create("default", input("c2", { image: "other" }));
    store.create("other", input("c3"));
    assert.deepEqual(store.list("default").map((c) => c.id), ["c1", "c2"]);
    assert.deepEqual(store.list("default", ["image==other"]).map((c) => c.id), [
      "c2",
    ]);
    assert.deepEqual(store.list("default", ["labels.a==1"]).map((c) => c.id), [
      "c1",
    ]);
    assert.deepEqual(
      store.list("default", ["runtime.name==io.containerd.runc.v2", "id==c2"])
        .map((c) => c.id),
      ["c1", "c2"],
    );
    store.mustExist("default", "c1");
    rejects(
      () => store.mustExist("other", "c1"),
      Code.NotFound,
      /^container "c1" in namespace "other": not found$/,
    );
    store.delete("default", "c1");
    rejects(
      () => store.get("default", "c1"),
      Code.NotFound,
      /^container "c1" in namespace "default": not found$/,
    );
    rejects(
      () => store.mustExist("default", "c1"),
      Code.NotFound,
      /^container "c1" in namespace "default": not found$/,
    );
    rejects(
      () => store.delete("default", "c1"),
      Code.NotFound,
      /^container c1: not found$/,
    );
    rejects(
      () => store.delete("empty", "c1"),
      Code.NotFound,
      /^cannot delete container "c1" in namespace "empty": not found$/,
    );
  }),
);

Deno.test(
  "ContainerStore.mustExist follows deletes and re-creations of what it found",
  withStore(({ store }) => {
    store.create("default", input("c1"));
    store.create("other", input("c1"));
    store.mustExist("default", "c1");
    store.mustExist("default", "c1");
    store.mustExist("other", "c1");
    store.delete("default", "c1");
    rejects(
      () => store.mustExist("default", "c1"),
      Code.NotFound,
      /^container "c1" in namespace "default": not found$/,
    );
    store.mustExist("other", "c1");
    store.create("default", input("c1"));
    store.mustExist("default", "c1");
    store.delete("default", "c1");
    rejects(
      () => store.mustExist("default", "c1"),
      Code.NotFound,
      /^container "c1" in namespace "default": not found$/,
    );
  }),
);

Deno.test(
  "ContainerStore validates like containerd",
  withStore(({ store }) => {
    rejects(
      () => store.create("default", input("bad id")),
      Code.InvalidArgument,
      /^create container failed validation: container\.ID: identifier "bad id" must match/,
    );
    rejects(
      () => store.create("default", input("c", { runtime: { name: "" } })),
      Code.InvalidArgument,
      /container\.Runtime\.Name must be set: invalid argument$/,
    );
    rejects(
      () => store.create("default", input("c", { spec: undefined })),
      Code.InvalidArgument,
      /container\.Spec must be set: invalid argument$/,
    );
    rejects(
      () => store.create("default", input("c", { snapshotter: "" })),
      Code.InvalidArgument,
      /container\.Snapshotter must be set if container\.SnapshotKey is set/,
    );
    rejects(
      () =>
        store.create(
          "default",
          input("c", {
            extensions: { "": { typeUrl: "x", value: bytes("") } },
          }),
        ),
      Code.InvalidArgument,
      /Extension keys must not be zero-length/,
    );
    store.create("default", input("c"));
    rejects(
      () => store.create("default", input("c")),
      Code.AlreadyExists,
      /^container "c": already exists$/,
    );
  }),
);

Deno.test(
  "ContainerStore updates the fields containerd lets change",
  withStore(({ store }) => {
    const created = store.create(
      "default",
      input("c", { labels: { a: "1", b: "2" } }),
    );
    const labelled = store.update("default", {
      id: "c",
      labels: { a: "", c: "3" },
    }, ["labels.a", "labels.c"]);
    assert.deepEqual(labelled.labels, { b: "2", c: "3" });
    assert.equal(labelled.createdAt.getTime(), created.createdAt.getTime());
    const spec = { typeUrl: SPEC.typeUrl, value: bytes("{}") };
    const moved = store.update("default", {
      id: "c",
      spec,
      image: "new",
      snapshotKey: "other",
      extensions: { e: { typeUrl: "x", value: bytes("1") } },
    }, ["spec", "image", "snapshotkey", "extensions.e"]);
    assert.deepEqual(moved.spec, spec);
    assert.equal(moved.image, "new");
    assert.equal(moved.snapshotKey, "other");
    assert.deepEqual(Object.keys(moved.extensions), ["e"]);
    assert.deepEqual(store.get("default", "c"), moved);
    rejects(
      () => store.update("default", { id: "c" }, ["runtime"]),
      Code.InvalidArgument,
      /^cannot update "runtime" field on "c": invalid argument$/,
    );
    rejects(
      () => store.update("default", { id: "c" }, ["spec"]),
      Code.InvalidArgument,
      /^update failed validation: container\.Spec must be set/,
    );
    rejects(
      () => store.update("default", { ...input("c"), snapshotter: "native" }),
      Code.InvalidArgument,
      /container\.Snapshotter field is immutable/,
    );
    rejects(
      () =>
        store.update("default", {
          ...input("c"),
          runtime: { name: "other" },
        }),
      Code.InvalidArgument,
      /container\.Runtime\.Name field is immutable/,
    );
    const replaced = store.update(
      "default",
      input("c", { labels: { z: "1" } }),
    );
    assert.deepEqual(replaced.labels, { z: "1" });
    assert.deepEqual(replaced.extensions, {});
    assert.equal(replaced.snapshotKey, "c");
    rejects(
      () => store.update("default", { id: "gone" }, ["image"]),
      Code.NotFound,
      /^container "gone": not found$/,
    );
    rejects(
      () => store.update("empty", { id: "gone" }, ["image"]),
      Code.NotFound,
      /^cannot update container "gone" in namespace "empty": not found$/,
    );
  }),
);

Deno.test(
  "containers keep namespaces and are GC roots of their snapshot and label references",
  withStore(({ db, namespaces, store }) => {
    store.create(
      "ns",
      input("c", {
        labels: {
          "containerd.io/gc.ref.content.config": "sha256:abc",
          "containerd.io/gc.ref.snapshot.native": "extra",
        },
      }),
    );
    store.create("ns", input("nosnap", { snapshotter: "", snapshotKey: "" }));
    rejects(
      () => namespaces.delete("ns"),
      Code.FailedPrecondition,
      /still has containers/,
    );
    const roots = [...metadataGraph([containerGcSource(db)], 0).roots()];
    assert.deepEqual(
      roots.map((node) => `${node.type} ${node.namespace} ${node.key}`).sort(),
      [
        "content ns sha256:abc",
        "snapshot ns native/extra",
        "snapshot ns overlayfs/c",
      ],
    );
    store.delete("ns", "c");
    store.delete("ns", "nosnap");
    namespaces.delete("ns");
  }),
);
