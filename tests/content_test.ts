/**
 * The content store, leases and garbage collection end to end, driven by
 * the real `ctr` and compared with a real containerd where it is installed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  Content,
  WriteAction,
} from "../src/gen/containerd/services/content/v1/content_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import {
  collect,
  collectGarbage,
  ctrArgs,
  digestOfOutput,
  normalizeCtr,
  randomFile,
  startContainerd,
  startDaemon,
  type TestDaemon,
} from "./_harness.ts";
import { noNamespaceClient } from "./_client.ts";
import { Client, ClientError, Code, toClientError } from "../src/client/mod.ts";

const MB = 1 << 20;

function digestOf(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  return data;
}

/** `content ingest` arguments for a blob of `size` bytes and `digest`. */
function ingestArgs(size: number | string, digest: string, ref: string) {
  return [
    "content",
    "ingest",
    "--expected-size",
    String(size),
    "--expected-digest",
    digest,
    ref,
  ];
}

/** Writes `data` through the Write stream in one go; returns the digest. */
async function writeBlob(
  daemon: TestDaemon,
  namespace: string,
  data: Uint8Array,
  options: { lease?: string; labels?: Record<string, string>; ref?: string } =
    {},
): Promise<string> {
  const content = new Client({
    address: daemon.address,
    namespace,
    lease: options.lease,
  }).service(Content);
  const digest = digestOf(data);
  const ref = options.ref ?? `test-${digest.slice(7, 19)}`;
  const total = BigInt(data.length);
  try {
    for await (
      const _ of content.write((async function* () {
        yield { action: WriteAction.WRITE, ref, total, expected: digest, data };
        yield {
          action: WriteAction.COMMIT,
          ref,
          total,
          expected: digest,
          offset: total,
          labels: options.labels ?? {},
        };
      })())
    ) { /* responses carry offsets only */ }
  } catch (err) {
    // An already-present blob commits nothing new: as ctr treats it.
    if (!(err instanceof ClientError && err.code === Code.AlreadyExists)) {
      throw err;
    }
  }
  return digest;
}

async function blobFiles(daemon: TestDaemon): Promise<string[]> {
  const names: string[] = [];
  const dir = `${daemon.root}/io.containerd.content.v1.content/blobs/sha256`;
  for await (const entry of Deno.readDir(dir)) {
    names.push(`sha256:${entry.name}`);
  }
  return names.sort();
}

Deno.test("ctr content ingest|ls|get|label|rm of 200 MB matches containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const file = await randomFile(berth.dir, 200 * MB);
  const sides = containerd ? [berth, containerd] : [berth];
  const outputs: string[][] = [];
  for (const side of sides) {
    const out: string[] = [];
    const ingest = await side.ctr(
      [
        ...ingestArgs(String(file.size), file.digest, "big-ref"),
      ],
      { stdin: { file: file.path } },
    );
    assert.equal(ingest.code, 0, ingest.stderr);
    out.push(ingest.stdout);
    const listed = await side.ctr(["content", "ls"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${file.digest}\\s+209.7MB`));
    out.push(listed.stdout);
    const got = await digestOfOutput(
      "ctr",
      ctrArgs(side, ["content", "get", file.digest]),
    );
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.digest, file.digest);
    assert.equal(got.size, file.size);
    const labelled = await side.ctr([
      "content",
      "label",
      file.digest,
      "a=1",
      "b=2",
    ]);
    assert.equal(labelled.code, 0, labelled.stderr);
    out.push(labelled.stdout);
    out.push((await side.ctr(["content", "ls"])).stdout);
    out.push((await side.ctr(["content", "ls", "-q", "labels.a==1"])).stdout);
    const removed = await side.ctr(["content", "rm", file.digest]);
    assert.equal(removed.code, 0, removed.stderr);
    out.push(removed.stdout);
    out.push((await side.ctr(["content", "ls"])).stdout);
    outputs.push(out.map((text) => normalizeCtr(text)));
  }
  if (outputs.length === 2) assert.deepEqual(outputs[0], outputs[1]);
  assert.match(outputs[0][3], /a=1,b=2/);
});

Deno.test("ctr leases create|ls|rm match containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const sides = containerd ? [berth, containerd] : [berth];
  const outputs: string[][] = [];
  for (const side of sides) {
    const out: string[] = [];
    for (
      const args of [
        ["leases", "create", "--id", "lease-1", "owner=me"],
        ["leases", "create", "--id", "lease-2", "--expires", "1h"],
        ["leases", "ls"],
        ["leases", "ls", "-q"],
        ["leases", "rm", "lease-1"],
        ["leases", "rm", "--sync", "lease-2"],
        ["leases", "ls"],
      ]
    ) {
      const r = await side.ctr(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      out.push(r.stdout);
    }
    const anonymous = await side.ctr(["leases", "create"]);
    assert.equal(anonymous.code, 0, anonymous.stderr);
    assert.match(anonymous.stdout, /^\d+-[A-Za-z0-9_-]{4}\n$/);
    await side.ctr(["leases", "rm", anonymous.stdout.trim()]);
    const dup = await side.ctr(["leases", "create", "--id", "x"]);
    assert.equal(dup.code, 0);
    const again = await side.ctr(["leases", "create", "--id", "x"]);
    assert.notEqual(again.code, 0);
    out.push(again.stderr.replace(/^.*?ctr: /s, ""));
    outputs.push(out.map((text) => normalizeCtr(text)));
  }
  if (outputs.length === 2) assert.deepEqual(outputs[0], outputs[1]);
  assert.match(
    outputs[0][2],
    /lease-1 TIME containerd.io\/gc.expire=TIME,owner=me/,
  );
});

Deno.test("ctr content active shows a slow ingest; a killed client resumes", async () => {
  await using berth = await startDaemon();
  const file = await randomFile(berth.dir, 12 * MB);
  const data = await Deno.readFile(file.path);
  const ingest = new Deno.Command("ctr", {
    args: ctrArgs(
      berth,
      ingestArgs(String(file.size), file.digest, "slow-ref"),
    ),
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = ingest.stdin.getWriter();
  try {
    await writer.write(data.subarray(0, 5 * MB));
    let active = "";
    for (let i = 0; i < 100 && !/slow-ref\s+5\.\d+MB/.test(active); i++) {
      await new Promise((r) => setTimeout(r, 100));
      active = (await berth.ctr(["content", "active"])).stdout;
    }
    assert.match(active, /^REF\s+SIZE\s+AGE\s*\nslow-ref\s+5\.\d+MB\s+/);
    assert.doesNotMatch(
      (await berth.ctr(["content", "ls", "-q"])).stdout,
      /sha256/,
    );
  } finally {
    ingest.kill("SIGKILL");
    await ingest.status;
    await writer.abort().catch(() => {});
  }
  // The partial ingest survives its client and resumes from its offset.
  const status = await berth.ctr(["content", "active"]);
  assert.match(status.stdout, /slow-ref\s+5\.\d+MB/);
  const resumed = await berth.ctr(
    [
      ...ingestArgs(String(file.size), file.digest, "slow-ref"),
    ],
    { stdin: { file: file.path } },
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(
    (await berth.ctr(["content", "ls", "-q"])).stdout.trim(),
    file.digest,
  );
  assert.equal(
    (await berth.ctr(["content", "active"])).stdout.trim(),
    "REF\tSIZE\tAGE".replace(/\t/g, "\t"),
  );
  const got = await digestOfOutput(
    "ctr",
    ctrArgs(berth, ["content", "get", file.digest]),
  );
  assert.equal(got.digest, file.digest);
});

Deno.test("an ingest survives a SIGKILLed daemon and resumes after restart", async () => {
  const first = await startDaemon();
  await using _cleanup = {
    [Symbol.asyncDispose]: () => first[Symbol.asyncDispose](),
  };
  const data = randomBytes(6 * MB);
  const digest = digestOf(data);
  const content = new Client({
    address: first.address,
    namespace: first.namespace,
  }).service(Content);
  // Write 4 MiB, then kill the daemon with the stream still open.
  let wrote = 0;
  const stream = content.write((async function* () {
    yield {
      action: WriteAction.STAT,
      ref: "crash-ref",
      total: BigInt(data.length),
      expected: digest,
    };
    for (let off = 0; off < 4 * MB; off += MB) {
      yield {
        action: WriteAction.WRITE,
        ref: "crash-ref",
        offset: BigInt(off),
        data: data.subarray(off, off + MB),
      };
    }
    await new Promise(() => {}); // hold the stream open
  })());
  const reader = (async () => {
    try {
      for await (const res of stream) wrote = Number(res.offset);
    } catch { /* the daemon dies */ }
  })();
  for (let i = 0; i < 100 && wrote < 4 * MB; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(wrote, 4 * MB);
  first.process.kill("SIGKILL");
  await first.process.status;
  await reader;

  await using second = await startDaemon({ dir: first.dir });
  const active = await second.ctr(["content", "active"]);
  assert.match(active.stdout, /crash-ref\s+4\.194MB/);
  assert.doesNotMatch(
    (await second.ctr(["content", "ls", "-q"])).stdout,
    /sha256/,
  );
  // ctr resumes from the stored offset (it skips what is there already).
  const file = `${second.dir}/crash-data`;
  await Deno.writeFile(file, data);
  const resumed = await second.ctr(
    [
      ...ingestArgs(String(data.length), digest, "crash-ref"),
    ],
    { stdin: { file } },
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  const got = await digestOfOutput(
    "ctr",
    ctrArgs(second, ["content", "get", digest]),
  );
  assert.equal(got.digest, digest);
});

Deno.test("namespaces isolate content that shares one blob on disk", async () => {
  await using berth = await startDaemon();
  const data = randomBytes(3 * MB);
  const file = `${berth.dir}/blob`;
  await Deno.writeFile(file, data);
  const digest = digestOf(data);
  const ingest = (ns: string) =>
    berth.ctr(
      [
        "-n",
        ns,
        ...ingestArgs(String(data.length), digest, "r"),
      ],
      { stdin: { file } },
    );
  assert.equal((await ingest("tenant-a")).code, 0);
  const b = (args: string[]) => berth.ctr(["-n", "tenant-b", ...args]);
  assert.equal((await b(["content", "ls", "-q"])).stdout, "");
  const get = await b(["content", "get", digest]);
  assert.notEqual(get.code, 0);
  assert.match(get.stderr, new RegExp(`content ${digest}: not found`));
  // ctr's rm shrugs off NotFound; what matters is that nothing changed.
  await b(["content", "rm", digest]);
  assert.equal(
    (await berth.ctr(["-n", "tenant-a", "content", "ls", "-q"])).stdout.trim(),
    digest,
  );
  const label = await b(["content", "label", digest, "x=y"]);
  assert.notEqual(label.code, 0);
  // tenant-b's own ingest commits at once: the blob is already on disk.
  const bIngest = await berth.ctr(
    [
      "-n",
      "tenant-b",
      ...ingestArgs(String(data.length), digest, "r"),
    ],
    { stdin: { file } },
  );
  assert.equal(bIngest.code, 0, bIngest.stderr);
  // Held, so that the collection a deletion brings leaves tenant-b's copy.
  const lease = new Client({
    address: berth.address,
    namespace: "tenant-b",
  }).service(Leases);
  await lease.create({ id: "hold" });
  await lease.addResource({
    id: "hold",
    resource: { id: digest, type: "content" },
  });
  assert.equal((await b(["content", "ls", "-q"])).stdout.trim(), digest);
  assert.deepEqual(await blobFiles(berth), [digest]);
  // Each tenant's labels are its own.
  await b(["content", "label", digest, "owner=b"]);
  assert.doesNotMatch(
    (await berth.ctr(["-n", "tenant-a", "content", "ls"])).stdout,
    /owner=b/,
  );
  // Removing it from one tenant leaves the other's copy readable.
  assert.equal(
    (await berth.ctr(["-n", "tenant-a", "content", "rm", digest])).code,
    0,
  );
  await collectGarbage(berth);
  const stillThere = await digestOfOutput("ctr", [
    "--address",
    berth.address,
    "-n",
    "tenant-b",
    "content",
    "get",
    digest,
  ]);
  assert.equal(stillThere.digest, digest);
  assert.deepEqual(await blobFiles(berth), [digest]);
  // A namespace holding blobs cannot be deleted.
  const ns = await berth.ctr(["namespaces", "rm", "tenant-b"]);
  assert.notEqual(ns.code, 0);
  assert.match(
    ns.stderr,
    /namespace "tenant-b" must be empty, but it still has blobs/,
  );
});

Deno.test("garbage collection removes what no root references and keeps the rest", async () => {
  await using berth = await startDaemon();
  const leases = new Client({
    address: berth.address,
    namespace: "gc-a",
  }).service(Leases);
  await leases.create({ id: "pull" });
  const [leased, child, root, loose] = [1, 2, 3, 4].map(() =>
    randomBytes(64 * 1024)
  );
  const leasedDigest = await writeBlob(berth, "gc-a", leased, {
    lease: "pull",
  });
  // The child is held by a lease until the root that references it exists:
  // a collection in between (one runs soon after start) would take it.
  await leases.create({ id: "hold" });
  const childDigest = await writeBlob(berth, "gc-a", child, { lease: "hold" });
  const rootDigest = await writeBlob(berth, "gc-a", root, {
    labels: {
      "containerd.io/gc.root": "yes",
      "containerd.io/gc.ref.content.0": childDigest,
    },
  });
  await leases.delete({ id: "hold" });
  const looseDigest = await writeBlob(berth, "gc-a", loose);
  // The other tenant holds its own copy of the leased blob under its lease.
  const otherLeases = new Client({
    address: berth.address,
    namespace: "gc-b",
  }).service(Leases);
  await otherLeases.create({ id: "keep" });
  await writeBlob(berth, "gc-b", leased, { lease: "keep" });
  const otherOnly = await writeBlob(berth, "gc-b", randomBytes(1000), {
    lease: "keep",
  });

  const resources = await leases.listResources({ id: "pull" });
  assert.deepEqual(resources.resources.map((r) => [r.type, r.id]), [[
    "content",
    leasedDigest,
  ]]);

  await leases.delete({ id: "pull", sync: true });
  const listed = (await berth.ctr(["-n", "gc-a", "content", "ls", "-q"])).stdout
    .trim().split("\n").sort();
  assert.deepEqual(listed, [childDigest, rootDigest].sort());
  const onDisk = await blobFiles(berth);
  assert.deepEqual(
    onDisk,
    [childDigest, rootDigest, leasedDigest, otherOnly].sort(),
  );
  assert.ok(!onDisk.includes(looseDigest));
  const other = (await berth.ctr(["-n", "gc-b", "content", "ls", "-q"])).stdout
    .trim().split("\n").sort();
  assert.deepEqual(other, [leasedDigest, otherOnly].sort());

  // Dropping the root label lets the root and what it referenced go too.
  const unlabel = await berth.ctr([
    "-n",
    "gc-a",
    "content",
    "label",
    rootDigest,
    "containerd.io/gc.root=",
  ]);
  assert.equal(unlabel.code, 0, unlabel.stderr);
  await otherLeases.delete({ id: "keep", sync: true });
  assert.equal(
    (await berth.ctr(["-n", "gc-a", "content", "ls", "-q"])).stdout,
    "",
  );
  assert.deepEqual(await blobFiles(berth), []);
});

Deno.test("an expired lease holds nothing", async () => {
  await using berth = await startDaemon();
  const leases = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Leases);
  const expires = Date.now() + 1500;
  await leases.create({
    id: "short",
    labels: { "containerd.io/gc.expire": new Date(expires).toISOString() },
  });
  await writeBlob(berth, berth.namespace, randomBytes(1000), {
    lease: "short",
  });
  await leases.create({ id: "trigger" });
  await leases.delete({ id: "trigger", sync: true });
  assert.notEqual((await berth.ctr(["content", "ls", "-q"])).stdout, "");
  await new Promise((r) => setTimeout(r, expires - Date.now() + 100));
  await leases.create({ id: "trigger" });
  await leases.delete({ id: "trigger", sync: true });
  assert.equal((await berth.ctr(["content", "ls", "-q"])).stdout, "");
  assert.equal((await berth.ctr(["leases", "ls", "-q"])).stdout, "");
});

Deno.test("bad content input is refused and changes nothing", async () => {
  await using berth = await startDaemon();
  const data = randomBytes(4096);
  const file = `${berth.dir}/blob`;
  await Deno.writeFile(file, data);
  const wrong = "sha256:" + "0".repeat(64);
  const bad = await berth.ctr(
    [
      ...ingestArgs("4096", wrong, "bad-ref"),
    ],
    { stdin: { file } },
  );
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /unexpected commit digest .*, expected sha256:0{64}/,
  );
  assert.match(bad.stderr, /failed precondition/);
  const content = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Content);
  const expectCode = async (
    fn: () => Promise<unknown>,
    code: number,
    message?: RegExp,
  ) => {
    try {
      await fn();
      assert.fail("expected an error");
    } catch (err) {
      // The library's typed error (the raw client's, typed the same way).
      const typed = toClientError(err);
      assert.ok(typed instanceof ClientError, String(err));
      assert.equal(typed.code, code, typed.message);
      if (message) assert.match(typed.message, message);
    }
  };
  const drain = async (it: AsyncIterable<unknown>) => {
    for await (const _ of it) { /* consume */ }
  };
  // Past total.
  await expectCode(
    () =>
      drain(content.write((async function* () {
        yield {
          action: WriteAction.WRITE,
          ref: "over",
          total: 10n,
          data: new Uint8Array(11),
        };
      })())),
    11,
    /passes total 10/,
  );
  // Malformed digests.
  for (const digest of ["sha256:xyz", "md5:abc", "../../etc/passwd", ""]) {
    await expectCode(() => content.info({ digest }), 3);
    await expectCode(() => drain(content.read({ digest })), 3);
  }
  // Negative and huge offsets and sizes.
  await expectCode(
    () =>
      drain(content.write((async function* () {
        yield {
          action: WriteAction.WRITE,
          ref: "neg",
          offset: -5n,
          data: new Uint8Array(1),
        };
      })())),
    3,
  );
  await expectCode(
    () =>
      drain(content.write((async function* () {
        yield {
          action: WriteAction.WRITE,
          ref: "huge",
          total: 1n << 62n,
          data: new Uint8Array(1),
        };
      })())),
    3,
  );
  // A ref with path characters is only a name: it never escapes the store.
  await writeBlob(berth, berth.namespace, data, {
    ref: "../../../../tmp/escape",
  });
  await assert.rejects(() => Deno.stat("/tmp/escape"), Deno.errors.NotFound);
  // Reading past the end.
  await expectCode(
    () => drain(content.read({ digest: digestOf(data), offset: 5000n })),
    11,
    /read past object length 4096 bytes/,
  );
  // Nothing wrong was kept as a blob: one blob (the good one).
  assert.deepEqual(await blobFiles(berth), [digestOf(data)]);
  assert.equal(
    (await berth.ctr(["content", "ls", "-q"])).stdout.trim(),
    digestOf(data),
  );
  // As in containerd, the refused commit kept its bytes under the ref (no
  // ingest holds bytes past its total).
  const active = (await berth.ctr(["content", "active"])).stdout;
  assert.match(active, /^bad-ref\s+4\.096kB\s/m);
  // Missing namespace header.
  const anonymous = noNamespaceClient(Content, berth.address);
  await expectCode(
    () => anonymous.info({ digest: digestOf(data) }),
    9,
    /namespace is required/,
  );
});

Deno.test("content events: /content/delete is published", async () => {
  await using berth = await startDaemon();
  const events = new Deno.Command("ctr", {
    args: ["--address", berth.address, "events", 'topic=="/content/delete"'],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = collect(events.stdout);
  try {
    for (let i = 0; i < 20 && !/content\/delete/.test(out.text); i++) {
      const digest = await writeBlob(berth, berth.namespace, randomBytes(100));
      await berth.ctr(["content", "rm", digest]);
      await out.waitFor(/content\/delete/, 300).catch(() => {});
    }
    assert.match(
      out.text,
      new RegExp(
        `${berth.namespace} /content/delete \\{"digest":"sha256:[0-9a-f]{64}"\\}`,
      ),
    );
  } finally {
    events.kill("SIGTERM");
    await events.status;
  }
});

Deno.test("abort refuses an ingest being written and keeps it whole", async () => {
  await using berth = await startDaemon();
  const content = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Content);
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  let offset = 0;
  const stream = content.write((async function* () {
    yield { action: WriteAction.WRITE, ref: "busy", data: new Uint8Array(MB) };
    await held;
  })());
  const reading = (async () => {
    for await (const res of stream) offset = Number(res.offset);
  })();
  for (let i = 0; i < 100 && offset < MB; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await assert.rejects(() => content.abort({ ref: "busy" }), (err) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.code, 14);
    assert.match(err.message, /ref .*busy locked/);
    return true;
  });
  assert.match(
    (await berth.ctr(["content", "active"])).stdout,
    /busy\s+1\.049MB/,
  );
  release();
  await reading;
  await content.abort({ ref: "busy" });
  assert.doesNotMatch((await berth.ctr(["content", "active"])).stdout, /busy/);
});
