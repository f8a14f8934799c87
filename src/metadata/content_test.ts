import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { LocalContentStore } from "../content/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import { NamespacedContentStore } from "./content.ts";
import { MetadataDB } from "./db.ts";
import { collectGarbage, contentGcSource } from "./gc.ts";
import { LeaseStore } from "./leases.ts";
import { NamespaceStore } from "./namespaces.ts";

interface Fixture {
  db: MetadataDB;
  store: NamespacedContentStore;
  leases: LeaseStore;
  gc: () => ReturnType<typeof collectGarbage>;
}

function withStore(fn: (f: Fixture) => Promise<void>) {
  return async () => {
    const dir = await Deno.makeTempDir({ prefix: "berth-meta-" });
    const db = MetadataDB.open(":memory:");
    const blobs = new LocalContentStore({ root: dir });
    try {
      const namespaces = new NamespaceStore(db);
      const leases = new LeaseStore(db, namespaces);
      const store = new NamespacedContentStore({
        db,
        blobs,
        namespaces,
        leases,
      });
      const gc = () =>
        collectGarbage({ db, sources: [contentGcSource(db)], content: store });
      await fn({ db, store, leases, gc });
    } finally {
      blobs.close();
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);
const digestOf = (data: Uint8Array) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function put(
  store: NamespacedContentStore,
  namespace: string,
  text: string,
  options: { lease?: string; labels?: Record<string, string> } = {},
) {
  const data = bytes(text);
  const writer = await store.writer(namespace, {
    ref: `ref-${text}`,
    total: data.length,
    expected: digestOf(data),
    lease: options.lease,
  });
  try {
    await writer.write(data);
    return await writer.commit({ labels: options.labels });
  } finally {
    await writer.close();
  }
}

Deno.test(
  "a blob already on disk commits at once in another namespace",
  withStore(async ({ store }) => {
    const digest = await put(store, "a", "shared bytes");
    const writer = await store.writer("b", {
      ref: "r",
      expected: digest,
    });
    const status = await writer.status();
    assert.equal(status.offset, "shared bytes".length);
    assert.equal(status.total, "shared bytes".length);
    assert.equal(await writer.commit({ labels: { mine: "b" } }), digest);
    await writer.close();
    assert.deepEqual(store.info("b", digest).labels, { mine: "b" });
    assert.deepEqual(store.info("a", digest).labels, {});
    await assert.rejects(
      () => store.writer("b", { ref: "again", expected: digest }),
      (err) => BerthError.is(err, Code.AlreadyExists),
    );
  }),
);

Deno.test(
  "stale ingests expire; leased and fresh ones stay",
  withStore(async ({ db, store, leases, gc }) => {
    leases.create("ns", { id: "hold" });
    for (
      const [ref, lease] of [["stale", undefined], ["fresh", undefined], [
        "leased",
        "hold",
      ]]
    ) {
      const writer = await store.writer("ns", { ref: ref!, lease });
      await writer.write(bytes(`partial ${ref}`));
      await writer.close();
    }
    db.sql.prepare("UPDATE ingests SET expires_at = ? WHERE ref = 'stale'")
      .run(Date.now() - 1);
    await gc();
    const refs = (await store.listStatuses("ns")).map((s) => s.ref);
    assert.deepEqual(refs, ["fresh", "leased"]);
    assert.equal((await store.blobs.listStatuses()).length, 2);
  }),
);

Deno.test(
  "content references through labels keep blobs alive across a collection",
  withStore(async ({ store, gc }) => {
    const leaf = await put(store, "ns", "leaf");
    const mid = await put(store, "ns", "mid", {
      labels: { "containerd.io/gc.ref.content.l": leaf },
    });
    await put(store, "ns", "top", {
      labels: {
        "containerd.io/gc.root": "1",
        "containerd.io/gc.ref.content.m": mid,
      },
    });
    const loose = await put(store, "ns", "loose");
    const result = await gc();
    assert.deepEqual(result.blobs, [loose]);
    assert.equal(store.list("ns").length, 3);
  }),
);

Deno.test(
  "a failed commit keeps the ingest, which reopens and commits right",
  withStore(async ({ store }) => {
    const data = bytes("not what was promised");
    const writer = await store.writer("ns", {
      ref: "bad",
      expected: "sha256:" + "1".repeat(64),
    });
    await writer.write(data);
    await assert.rejects(
      () => writer.commit({}),
      (err) => BerthError.is(err, Code.FailedPrecondition),
    );
    await writer.close();
    assert.deepEqual(store.list("ns"), []);
    const [status] = await store.listStatuses("ns");
    assert.equal(status.ref, "bad");
    assert.equal(status.offset, data.length);

    const again = await store.writer("ns", { ref: "bad" });
    assert.equal((await again.status()).offset, data.length);
    const digest = await again.commit({
      size: data.length,
      expected: digestOf(data),
    });
    assert.equal(digest, digestOf(data));
    assert.deepEqual(store.list("ns").map((i) => i.digest), [digest]);
    assert.deepEqual(await store.listStatuses("ns"), []);
  }),
);

Deno.test(
  "a rewrite of a shared blob cut off midway completes on the next attempt",
  withStore(async ({ store }) => {
    const data = bytes("shared bytes written twice");
    const digest = await put(store, "a", "shared bytes written twice");
    const open = () =>
      store.writer("b", {
        ref: "import",
        total: data.length,
        expected: digest,
      });
    // What a daemon killed mid-write leaves: a rewrite begun, half done.
    const first = await open();
    assert.equal((await first.status()).offset, data.length);
    await first.truncate(0);
    await first.write(data.subarray(0, 7));
    await first.close();

    const second = await open();
    assert.equal((await second.status()).offset, data.length);
    await second.truncate(0);
    assert.equal((await second.status()).offset, 0);
    await second.write(data);
    assert.equal(await second.commit({}), digest);
    await second.close();
    assert.equal(store.info("b", digest).size, data.length);
    assert.deepEqual(await store.listStatuses("b"), []);
  }),
);

Deno.test(
  "a shared ingest whose blob is gone by the next open is written for real",
  withStore(async ({ store }) => {
    const data = bytes("gone while the ingest waited");
    const digest = await put(store, "a", "gone while the ingest waited");
    const open = () =>
      store.writer("b", { ref: "pull", total: data.length, expected: digest });
    await (await open()).close();
    store.delete("a", digest);
    await store.blobs.delete(digest);

    const writer = await open();
    assert.equal((await writer.status()).offset, 0);
    await writer.write(data);
    assert.equal(await writer.commit({}), digest);
    await writer.close();
    const read = [];
    for await (const chunk of store.read("b", digest)) read.push(...chunk);
    assert.deepEqual(new Uint8Array(read), data);
  }),
);

/** The whole blob `digest` as `namespace` reads it. */
async function readText(
  store: NamespacedContentStore,
  namespace: string,
  digest: string,
): Promise<string> {
  const read = [];
  for await (const chunk of store.read(namespace, digest)) read.push(...chunk);
  return new TextDecoder().decode(new Uint8Array(read));
}

const isNotFound = (err: unknown) => BerthError.is(err, Code.NotFound);

Deno.test(
  "a blob read before is NotFound at once after its namespace deletes it, and still read elsewhere",
  withStore(async ({ store }) => {
    const digest = await put(store, "a", "read, then deleted");
    // Already on disk: b's commit only records that b owns it too.
    const writer = await store.writer("b", { ref: "r", expected: digest });
    await writer.commit({});
    await writer.close();
    for (const namespace of ["a", "b"]) {
      assert.equal(
        await readText(store, namespace, digest),
        "read, then deleted",
      );
    }
    store.delete("a", digest);
    assert.throws(() => store.read("a", digest), isNotFound);
    assert.equal(await readText(store, "b", digest), "read, then deleted");
  }),
);

Deno.test(
  "a blob read before is NotFound at once after a collection takes it",
  withStore(async ({ store, leases, gc }) => {
    leases.create("a", { id: "pull" });
    const digest = await put(store, "a", "held, read, collected", {
      lease: "pull",
    });
    assert.equal(await readText(store, "a", digest), "held, read, collected");
    leases.delete("a", "pull");
    await gc();
    assert.throws(() => store.read("a", digest), isNotFound);
    assert.equal(await store.blobs.has(digest), false);
  }),
);

Deno.test(
  "a namespace reads only blobs it owns; a bad digest is refused",
  withStore(async ({ store }) => {
    const digest = await put(store, "a", "owned by a");
    const read = [];
    for await (const chunk of store.read("a", digest, { offset: 6 })) {
      read.push(...chunk);
    }
    assert.deepEqual(new Uint8Array(read), bytes("by a"));
    assert.throws(
      () => store.read("b", digest),
      (err) => BerthError.is(err, Code.NotFound),
    );
    assert.throws(
      () => store.read("a", "sha256:nothex"),
      (err) => BerthError.is(err, Code.InvalidArgument),
    );
  }),
);

Deno.test(
  "a writer refused while another holds the ref changes nothing of that ingest",
  withStore(async ({ store }) => {
    const data = bytes("held bytes");
    const holder = await store.writer("ns", {
      ref: "held",
      total: data.length,
    });
    await holder.write(data.subarray(0, 4));
    const before = await holder.status();
    await assert.rejects(
      () => store.writer("ns", { ref: "held", total: 99 }),
      (err) => BerthError.is(err, Code.Unavailable),
    );
    assert.deepEqual(await holder.status(), before);
    assert.deepEqual(
      (await store.listStatuses("ns")).map((s) => [s.ref, s.total]),
      [["held", data.length]],
    );
    await holder.write(data.subarray(4));
    assert.equal(await holder.commit({}), digestOf(data));
    await holder.close();
  }),
);

Deno.test(
  "writers waiting on a ref the holder commits learn it exists, and their lease holds it",
  withStore(async ({ store, leases }) => {
    const data = bytes("awaited bytes");
    const expected = digestOf(data);
    leases.create("ns", { id: "waiter" });
    const holder = await store.writer("ns", {
      ref: "same",
      total: data.length,
      expected,
    });
    const waiters = Promise.allSettled(
      Array.from({ length: 20 }, () =>
        store.writer("ns", {
          ref: "same",
          total: data.length,
          expected,
          lease: "waiter",
        })),
    );
    await holder.write(data);
    await holder.commit({});
    await holder.close();
    for (const result of await waiters) {
      assert.equal(result.status, "rejected");
      assert.ok(BerthError.is(result.reason, Code.AlreadyExists));
    }
    assert.deepEqual(
      leases.listResources("ns", "waiter").map((r) => [r.type, r.id]),
      [["content", expected]],
    );
  }),
);
