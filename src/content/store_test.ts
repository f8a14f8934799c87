import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { BerthError, Code } from "../types/mod.ts";
import { digestOf } from "./digest.ts";
import { LocalContentStore } from "./store.ts";

function withStore(
  fn: (store: LocalContentStore, root: string) => Promise<void>,
) {
  return async () => {
    const root = await Deno.makeTempDir({ prefix: "berth-content-" });
    const store = new LocalContentStore({ root });
    try {
      await fn(store, root);
    } finally {
      store.close();
      await Deno.remove(root, { recursive: true });
    }
  };
}

async function assertCode(
  p: Promise<unknown> | (() => unknown),
  code: Code,
  message?: RegExp,
) {
  const check = (err: unknown) => {
    assert.ok(BerthError.is(err, code), `expected ${Code[code]}, got ${err}`);
    if (message) assert.match((err as Error).message, message);
    return true;
  };
  if (typeof p === "function") assert.throws(p, check);
  else await assert.rejects(p, check);
}

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function readAll(
  store: LocalContentStore,
  digest: string,
  options?: { offset?: number; size?: number; chunkSize?: number },
): Promise<Uint8Array> {
  return concat(await collect(store.read(digest, options)));
}

async function put(store: LocalContentStore, data: Uint8Array, ref = "put") {
  const w = await store.writer({ ref });
  await w.write(data);
  return await w.commit({ size: data.length, expected: digestOf(data) });
}

async function list(dir: string): Promise<string[]> {
  return (await collect(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test(
  "content: reads interleaved on one blob each get their own bytes",
  withStore(async (store) => {
    const data = bytes(200_000);
    const digest = await put(store, data);
    const windows = [[150_000, 20_000], [0, 30_000], [90_000, 60_000]];
    const readers = windows.map(([offset, size]) =>
      store.read(digest, { offset, size, chunkSize: 7_000 })[
        Symbol.asyncIterator
      ]()
    );
    const got: number[][] = windows.map(() => []);
    for (let live = readers.length; live > 0;) {
      live = 0;
      for (const [i, reader] of readers.entries()) {
        const next = await reader.next();
        if (next.done) continue;
        got[i].push(...next.value);
        live++;
      }
    }
    for (const [i, [offset, size]] of windows.entries()) {
      assert.deepEqual(
        new Uint8Array(got[i]),
        data.subarray(offset, offset + size),
      );
    }
  }),
);

Deno.test(
  "content: a deleted blob is NotFound at once though it was read before; a read under way finishes",
  withStore(async (store) => {
    const data = bytes(100_000);
    const digest = await put(store, data);
    assert.deepEqual(await readAll(store, digest), data);
    const reading = store.read(digest, { chunkSize: 10_000 })[
      Symbol.asyncIterator
    ]();
    const first = await reading.next();
    await store.delete(digest);
    await assertCode(readAll(store, digest), Code.NotFound);
    const rest = [first.value as Uint8Array];
    for (let next = await reading.next(); !next.done;) {
      rest.push(next.value);
      next = await reading.next();
    }
    assert.deepEqual(concat(rest), data);
    await assertCode(readAll(store, digest), Code.NotFound);
    // Committed again, it is read again.
    await put(store, data, "again");
    assert.deepEqual(
      await readAll(store, digest, { offset: 99_000 }),
      data.subarray(99_000),
    );
  }),
);

Deno.test(
  "content: a read begun while its blob is being deleted is whole or NotFound; reads after the delete are NotFound",
  withStore(async (store) => {
    const data = bytes(50_000);
    for (let round = 0; round < 20; round++) {
      const digest = await put(store, data, `round-${round}`);
      const deleting = store.delete(digest);
      // Opened before or after the file goes, depending on the race.
      const during = readAll(store, digest).then(
        (read) => assert.deepEqual(read, data),
        (err) => assert.ok(BerthError.is(err, Code.NotFound), String(err)),
      );
      await deleting;
      await during;
      await assertCode(readAll(store, digest), Code.NotFound);
    }
  }),
);

Deno.test(
  "content: write, commit and read back, whole and in windows",
  withStore(async (store, root) => {
    const data = bytes(300_000);
    const digest = digestOf(data);
    const w = await store.writer({
      ref: "layer-1",
      total: data.length,
      expected: digest,
    });
    assert.equal(w.ref, "layer-1");
    await w.write(data.subarray(0, 100_000));
    await w.write(data.subarray(100_000));
    assert.equal(w.status().offset, data.length);
    assert.equal(w.status().total, data.length);
    assert.equal(w.status().expected, digest);
    assert.equal(w.digest(), digest);
    assert.equal(await w.commit({}), digest);
    await w.close(); // After commit: nothing to do.

    assert.equal(
      store.path(digest),
      join(root, "blobs", "sha256", digest.slice(7)),
    );
    assert.deepEqual(await list(join(root, "blobs", "sha256")), [
      digest.slice(7),
    ]);
    assert.deepEqual(await list(join(root, "ingest")), []);
    assert.equal((await Deno.stat(store.path(digest))).mode! & 0o222, 0);

    assert.deepEqual(await readAll(store, digest), data);
    const chunks = await collect(store.read(digest, { chunkSize: 65536 }));
    assert.equal(chunks.length, 5);
    assert.ok(chunks.every((c) => c.length <= 65536));
    assert.deepEqual(concat(chunks), data);
    assert.deepEqual(
      await readAll(store, digest, { offset: 1000, size: 5000 }),
      data.subarray(1000, 6000),
    );
    assert.deepEqual(
      await readAll(store, digest, { offset: 299_000, size: 5000 }),
      data.subarray(299_000),
    );
    assert.deepEqual(
      await readAll(store, digest, { offset: -5, size: 3 }),
      data.subarray(0, 3),
    );
    assert.deepEqual(
      await readAll(store, digest, { offset: data.length }),
      new Uint8Array(),
    );
    await assertCode(
      readAll(store, digest, { offset: data.length + 1 }),
      Code.OutOfRange,
      /^read past object length 300000 bytes: out of range$/,
    );

    // An empty blob.
    const empty = await put(store, new Uint8Array(), "empty");
    assert.equal(empty, digestOf(""));
    assert.deepEqual(await readAll(store, empty), new Uint8Array());
    assert.equal((await store.info(empty)).size, 0);
  }),
);

Deno.test(
  "content: info, has, walk and delete",
  withStore(async (store) => {
    const a = bytes(10);
    const b = bytes(20);
    const before = Date.now() - 1000;
    const da = await put(store, a, "a");
    const db = await put(store, b, "b");
    const info = await store.info(da);
    assert.equal(info.digest, da);
    assert.equal(info.size, 10);
    assert.ok(info.createdAt.getTime() >= before);
    assert.ok(info.updatedAt.getTime() >= before);
    assert.ok(await store.has(db));
    const walked = (await collect(store.walk())).sort((x, y) =>
      x.size - y.size
    );
    assert.deepEqual(walked.map((i) => [i.digest, i.size]), [[da, 10], [
      db,
      20,
    ]]);

    await store.delete(da);
    assert.ok(!(await store.has(da)));
    await assertCode(
      store.info(da),
      Code.NotFound,
      new RegExp(`^content ${da}: not found$`),
    );
    await assertCode(store.delete(da), Code.NotFound);
    await assertCode(collect(store.read(da)), Code.NotFound);
    assert.deepEqual((await collect(store.walk())).map((i) => i.digest), [db]);
  }),
);

Deno.test(
  "content: a wrong digest or size keeps the ingest, to be committed right",
  withStore(async (store, root) => {
    const data = bytes(1000);
    const wrong = digestOf("something else");
    let w = await store.writer({ ref: "bad-digest" });
    await w.write(data);
    await assertCode(
      w.commit({ expected: wrong }),
      Code.FailedPrecondition,
      new RegExp(
        `^unexpected commit digest ${
          digestOf(data)
        }, expected ${wrong}: failed precondition$`,
      ),
    );
    assert.ok(!(await store.has(digestOf(data))));
    assert.deepEqual(await list(join(root, "blobs", "sha256")), []);
    await assertCode(w.write(data), Code.FailedPrecondition, /closed writer/);
    // What was written is still there under the ref, as in containerd.
    assert.equal((await store.status("bad-digest")).offset, 1000);
    w = await store.writer({ ref: "bad-digest" });
    assert.equal(w.status().offset, 1000);
    assert.equal(w.digest(), digestOf(data));
    assert.equal(
      await w.commit({ size: 1000, expected: digestOf(data) }),
      digestOf(data),
    );
    assert.ok(await store.has(digestOf(data)));

    // The writer's own expected digest is checked too.
    const other = bytes(500);
    w = await store.writer({ ref: "own-expected", expected: wrong });
    await w.write(other);
    await assertCode(
      w.commit(),
      Code.FailedPrecondition,
      /unexpected commit digest/,
    );

    w = await store.writer({ ref: "bad-size" });
    await w.write(other);
    await assertCode(
      w.commit({ size: 499 }),
      Code.FailedPrecondition,
      /^unexpected commit size 500, expected 499: failed precondition$/,
    );
    // Short of the declared total: the rest can still be written.
    w = await store.writer({ ref: "short", total: 1000 });
    await w.write(other.subarray(0, 300));
    await assertCode(
      w.commit(),
      Code.FailedPrecondition,
      /unexpected commit size 300, expected 1000/,
    );
    assert.deepEqual(
      (await store.listStatuses()).map((s) => [s.ref, s.offset]).sort(),
      [["bad-size", 500], ["own-expected", 500], ["short", 300]],
    );
    // The locks were released: each ref reopens and resumes.
    w = await store.writer({ ref: "short" });
    assert.equal(w.status().offset, 300);
    await w.write(other.subarray(300));
    await w.write(new Uint8Array(500));
    const full = concat([other, new Uint8Array(500)]);
    assert.equal(await w.commit(), digestOf(full));
    await (await store.writer({ ref: "bad-size" })).close();
    assert.deepEqual(
      await list(join(root, "blobs", "sha256")),
      [
        digestOf(data).slice(7),
        digestOf(full).slice(7),
      ].sort(),
    );
  }),
);

Deno.test(
  "content: a write past the total is refused and changes nothing",
  withStore(async (store) => {
    const data = bytes(100);
    const w = await store.writer({ ref: "r", total: 100 });
    await w.write(data.subarray(0, 60));
    const digest = w.digest();
    await assertCode(
      w.write(data.subarray(0, 41)),
      Code.OutOfRange,
      /^write of 41 bytes at offset 60 would pass total 100: out of range$/,
    );
    assert.equal(w.status().offset, 60);
    assert.equal(w.digest(), digest);
    assert.equal((await store.status("r")).offset, 60);
    await w.write(data.subarray(60));
    assert.equal(await w.commit({}), digestOf(data));
    assert.deepEqual(await readAll(store, digestOf(data)), data);
  }),
);

Deno.test(
  "content: truncate(0) restarts an ingest",
  withStore(async (store) => {
    const w = await store.writer({ ref: "t" });
    await w.write(bytes(50));
    await assertCode(w.truncate(10), Code.InvalidArgument);
    await w.truncate(0);
    assert.equal(w.status().offset, 0);
    assert.equal(w.digest(), digestOf(""));
    const data = bytes(30);
    await w.write(data);
    assert.equal(await w.commit({ size: 30 }), digestOf(data));
  }),
);

Deno.test(
  "content: close then resume on the same ref",
  withStore(async (store, root) => {
    const data = bytes(3 << 20);
    const digest = digestOf(data);
    const w1 = await store.writer({ ref: "resume", total: data.length });
    await w1.write(data.subarray(0, 1 << 20));
    const started = w1.status().startedAt;
    await w1.close();
    await w1.close();
    await assertCode(w1.write(data), Code.FailedPrecondition);

    const status = await store.status("resume");
    assert.equal(status.offset, 1 << 20);
    assert.equal(status.total, data.length);
    assert.equal(status.startedAt.getTime(), started.getTime());

    // The layout is containerd's.
    const dir = join(
      root,
      "ingest",
      createHash("sha256").update("resume").digest("hex"),
    );
    assert.deepEqual(await list(dir), [
      "data",
      "ref",
      "startedat",
      "total",
      "updatedat",
    ]);
    assert.equal(await Deno.readTextFile(join(dir, "ref")), "resume");

    await assertCode(
      store.writer({ ref: "resume", total: 5 }),
      Code.FailedPrecondition,
      /^provided total differs from status: 5 != 3145728: failed precondition$/,
    );
    const w2 = await store.writer({ ref: "resume" });
    assert.equal(w2.status().offset, 1 << 20);
    assert.equal(w2.status().total, data.length);
    assert.equal(w2.digest(), digestOf(data.subarray(0, 1 << 20)));
    assert.equal(w2.status().startedAt.getTime(), started.getTime());
    await w2.write(data.subarray(1 << 20));
    assert.equal(await w2.commit({ expected: digest }), digest);
    assert.deepEqual(await readAll(store, digest), data);
    await assertCode(store.status("resume"), Code.NotFound);
  }),
);

Deno.test(
  "content: an ingest left by a crash resumes in a new store",
  withStore(async (store, root) => {
    const data = bytes(5000);
    const w = await store.writer({ ref: "crash" });
    await w.write(data.subarray(0, 1000));
    await w.close();
    // As if more was written before the process died, without a close.
    const dir = join(
      root,
      "ingest",
      createHash("sha256").update("crash").digest("hex"),
    );
    const f = await Deno.open(join(dir, "data"), { append: true });
    await f.write(data.subarray(1000, 3000));
    f.close();

    const again = new LocalContentStore({ root });
    assert.equal((await again.status("crash")).offset, 3000);
    const w2 = await again.writer({ ref: "crash", expected: digestOf(data) });
    assert.equal(w2.status().offset, 3000);
    assert.equal(w2.status().expected, digestOf(data));
    await w2.write(data.subarray(3000));
    assert.equal(await w2.commit(), digestOf(data));
    assert.deepEqual(await readAll(again, digestOf(data)), data);

    // A directory without its ref file (died while creating) starts afresh.
    const orphan = join(
      root,
      "ingest",
      createHash("sha256").update("orphan").digest("hex"),
    );
    await Deno.mkdir(orphan);
    await Deno.writeTextFile(join(orphan, "data"), "junk");
    assert.deepEqual(await again.ingestRefs(), []);
    await assertCode(again.status("orphan"), Code.NotFound);
    const w3 = await again.writer({ ref: "orphan" });
    assert.equal(w3.status().offset, 0);
    await w3.write(new TextEncoder().encode("good"));
    assert.equal(await w3.commit(), digestOf("good"));
    again.close();
  }),
);

Deno.test(
  "content: a SIGKILLed writer's data is resumed, never a blob",
  withStore(async (_store, root) => {
    const storeUrl = new URL("./store.ts", import.meta.url).href;
    const script = `
      import { LocalContentStore } from ${JSON.stringify(storeUrl)};
      const store = new LocalContentStore({ root: ${JSON.stringify(root)} });
      const w = await store.writer({ ref: "killed", total: 4 << 20 });
      const chunk = new Uint8Array(1 << 20).fill(7);
      await w.write(chunk);
      await w.write(chunk);
      console.log("ready");
      await new Promise(() => setInterval(() => {}, 1000));
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      stdout: "piped",
      stderr: "inherit",
      env: { RUST_BACKTRACE: "" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    try {
      while (!out.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    }
    assert.match(out, /ready/);

    const store = new LocalContentStore({ root });
    assert.deepEqual(await list(join(root, "blobs", "sha256")), []);
    const data = new Uint8Array(4 << 20).fill(7);
    const w = await store.writer({ ref: "killed" });
    assert.equal(w.status().offset, 2 << 20);
    assert.equal(w.status().total, 4 << 20);
    await w.write(data.subarray(2 << 20));
    assert.equal(await w.commit(), digestOf(data));
  }),
);

Deno.test(
  "content: one writer per ref at a time",
  withStore(async (store) => {
    const w = await store.writer({ ref: "busy" });
    await assertCode(
      store.writer({ ref: "busy" }),
      Code.Unavailable,
      /^ref busy locked for [\d.]+m?s \(since .*\): unavailable$/,
    );
    // Another store on the same root is excluded too.
    await assertCode(
      new LocalContentStore({ root: store.root }).writer({ ref: "busy" }),
      Code.Unavailable,
    );
    await assertCode(store.abort("busy"), Code.Unavailable);
    await (await store.writer({ ref: "other" })).close();
    await w.close();
    const again = await store.writer({ ref: "busy" });
    await again.close();
  }),
);

Deno.test(
  "content: an existing blob is AlreadyExists, and the ingest goes",
  withStore(async (store, root) => {
    const data = bytes(64);
    const digest = await put(store, data, "first");
    await assertCode(
      store.writer({ ref: "second", expected: digest }),
      Code.AlreadyExists,
      new RegExp(`^content ${digest}: already exists$`),
    );
    // The lock was released.
    const w = await store.writer({ ref: "second" });
    await w.write(data);
    await assertCode(w.commit({}), Code.AlreadyExists, /already exists/);
    assert.deepEqual(await list(join(root, "ingest")), []);
    assert.deepEqual(await readAll(store, digest), data);
  }),
);

Deno.test(
  "content: malformed digests and refs are InvalidArgument",
  withStore(async (store, root) => {
    const bad = [
      "sha256:xyz",
      `md5:${"a".repeat(32)}`,
      "../../etc",
      "",
      `sha256:${"A".repeat(64)}`,
    ];
    for (const d of bad) {
      await assertCode(
        store.info(d),
        Code.InvalidArgument,
        /failed validation/,
      );
      await assertCode(store.has(d), Code.InvalidArgument);
      await assertCode(store.delete(d), Code.InvalidArgument);
      await assertCode(collect(store.read(d)), Code.InvalidArgument);
      await assertCode(() => store.path(d), Code.InvalidArgument);
      if (d) {
        await assertCode(
          store.writer({ ref: "x", expected: d }),
          Code.InvalidArgument,
        );
      }
    }
    const w = await store.writer({ ref: "x" });
    await w.write(bytes(3));
    await assertCode(
      w.commit({ expected: "sha256:xyz" }),
      Code.InvalidArgument,
    );
    assert.equal(w.status().offset, 3); // Still open.
    await w.close();

    await assertCode(
      store.writer({ ref: "" }),
      Code.InvalidArgument,
      /ref must not be empty/,
    );
    await assertCode(
      store.writer({ ref: "r".repeat(1025) }),
      Code.InvalidArgument,
      /maximum length/,
    );
    await assertCode(
      store.writer({ ref: "r", total: -1 }),
      Code.InvalidArgument,
    );
    await assertCode(store.status(""), Code.InvalidArgument);
    // Any other ref is safe: it is hashed for the directory name.
    const odd = await store.writer({ ref: "../../x/\0\n" });
    await odd.close();
    assert.deepEqual(await store.ingestRefs(), ["../../x/\0\n", "x"]);
    assert.equal((await list(join(root, "ingest"))).length, 2);
  }),
);

Deno.test(
  "content: statuses, ingest refs and abort",
  withStore(async (store, root) => {
    const a = await store.writer({ ref: "a", total: 10 });
    await a.write(bytes(4));
    await a.close();
    const b = await store.writer({ ref: "b" });
    assert.deepEqual(await store.ingestRefs(), ["a", "b"]);
    const statuses = await store.listStatuses();
    assert.deepEqual(statuses.map((s) => [s.ref, s.offset, s.total]), [[
      "a",
      4,
      10,
    ], ["b", 0, 0]]);
    assert.ok(statuses[0].updatedAt >= statuses[0].startedAt);
    await b.close();

    await assertCode(
      store.abort("nope"),
      Code.NotFound,
      /^ingest ref "nope": not found$/,
    );
    await assertCode(
      store.status("nope"),
      Code.NotFound,
      /^ingest ref "nope": not found$/,
    );
    await store.abort("a");
    await assertCode(store.status("a"), Code.NotFound);
    assert.deepEqual(await store.ingestRefs(), ["b"]);
    await store.abort("b");
    assert.deepEqual(await list(join(root, "ingest")), []);
    assert.deepEqual(await store.listStatuses(), []);
  }),
);

Deno.test("a resumed ingest that can never commit starts over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-content-" });
  try {
    const store = new LocalContentStore({ root: dir });
    const data = new TextEncoder().encode("right");
    const expected = `sha256:${
      createHash("sha256").update(data).digest("hex")
    }`;
    const open = () => store.writer({ ref: "r", total: 5, expected });
    const first = await open();
    await first.write(new TextEncoder().encode("wrong"));
    await first.close();

    const second = await open();
    assert.equal(second.status().offset, 0);
    await second.write(data);
    assert.equal(await second.commit(), expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
