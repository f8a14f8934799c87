import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  type CommandResult,
  startDaemon,
  type TestDaemon,
} from "../../tests/_harness.ts";
import { parseBlobRef } from "../_content.ts";

const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));
const decoder = new TextDecoder();

const digestOf = (data: Uint8Array) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Runs a command with binary stdin; returns stdout as bytes. */
async function runBytes(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<CommandResult & { bytes: Uint8Array }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    bytes: out.stdout,
  };
}

const berthCtr = (daemon: TestDaemon, args: string[], stdin?: Uint8Array) =>
  runBytes(
    Deno.execPath(),
    [
      "run",
      "-A",
      MOD,
      "ctr",
      "--address",
      daemon.address,
      "--namespace",
      daemon.namespace,
      ...args,
    ],
    stdin,
  );

Deno.test("parseBlobRef reads registry blob references", () => {
  const hex = "ab".repeat(32);
  assert.deepEqual(parseBlobRef(`127.0.0.1:5000/a/b@sha256:${hex}`), {
    host: "127.0.0.1:5000",
    repository: "a/b",
    digest: `sha256:${hex}`,
  });
  assert.deepEqual(parseBlobRef(`busybox@sha256:${hex}`), {
    host: "registry-1.docker.io",
    repository: "library/busybox",
    digest: `sha256:${hex}`,
  });
  assert.equal(
    parseBlobRef(`localhost/x@sha256:${hex}`).host,
    "localhost",
  );
  assert.throws(() => parseBlobRef("host/x"), /needs @DIGEST/);
  assert.throws(() => parseBlobRef(`host.io/X@sha256:${hex}`), /invalid/);
});

/**
 * Output with ages made equal. Ages differ in length between two runs, and
 * tabwriter pads columns with tabs to the widest cell: runs of tabs go too.
 */
function ageless(text: string): string {
  return text.replace(/Less than a second|\d+ seconds?/g, "AGE")
    .replace(/\t+/g, "\t");
}

Deno.test("content ingest, get, ls, label, active and rm print like ctr", async () => {
  await using daemon = await startDaemon();
  const blob = new Uint8Array(randomBytes(3_000_000));
  const digest = digestOf(blob);

  // An interrupted ingest resumes: the first MiB is garbage the second time,
  // and must be skipped because the daemon already has it.
  const partial = await berthCtr(daemon, [
    "content",
    "ingest",
    "--expected-size",
    String(blob.length),
    "--expected-digest",
    digest,
    "ref1",
  ], blob.subarray(0, 1 << 20));
  assert.equal(partial.code, 1);
  assert.match(partial.stderr, /unexpected EOF/);
  const active = await berthCtr(daemon, ["content", "active"]);
  const ctrActive = await daemon.ctr(["content", "active"]);
  assert.equal(active.stdout.replace(/\t.*/g, ""), "REF\nref1\n");
  assert.equal(ageless(active.stdout), ageless(ctrActive.stdout));
  const resumed = blob.slice();
  resumed.fill(0, 0, 1 << 20);
  const ingest = await berthCtr(daemon, [
    "content",
    "ingest",
    "--expected-size",
    String(blob.length),
    "--expected-digest",
    digest,
    "ref1",
  ], resumed);
  assert.equal(ingest.code, 0, ingest.stderr);

  // Already there: success without reading.
  const again = await berthCtr(daemon, [
    "content",
    "ingest",
    "--expected-digest",
    digest,
    "ref2",
  ], new Uint8Array(0));
  assert.equal(again.code, 0, again.stderr);

  const get = await berthCtr(daemon, ["content", "get", digest]);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(digestOf(get.bytes), digest);

  const label = await berthCtr(daemon, [
    "content",
    "label",
    digest,
    "b=2",
    "a",
  ]);
  assert.equal(label.stdout, "a=true,b=2\n");

  const ls = await berthCtr(daemon, ["content", "ls"]);
  const ctrLs = await daemon.ctr(["content", "ls"]);
  // ctr prints labels in Go's random map order.
  const age = (text: string) =>
    ageless(text).replace("b=2,a=true", "a=true,b=2");
  assert.equal(age(ls.stdout), age(ctrLs.stdout));
  assert.match(ls.stdout, /\t3MB\t.*\ta=true,b=2\n$/);
  const json = JSON.parse(
    (await berthCtr(daemon, ["content", "ls", "--json"])).stdout,
  );
  assert.deepEqual(
    json.map((i: { digest: string; size: number }) => [i.digest, i.size]),
    [[digest, blob.length]],
  );
  assert.equal(
    (await berthCtr(daemon, ["content", "ls", "-q"])).stdout,
    `${digest}\n`,
  );

  const rm = await berthCtr(daemon, [
    "content",
    "rm",
    digest,
    digest,
  ]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, `${digest}\n`);
  const bad = await berthCtr(daemon, ["content", "rm", "nonsense"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid checksum digest format/);
});

Deno.test("content fetch-blob stores a registry blob and refuses a wrong one", async () => {
  await using daemon = await startDaemon();
  const good = new Uint8Array(randomBytes(2_500_000)) as Uint8Array<
    ArrayBuffer
  >;
  const digest = digestOf(good);
  const wrong = new Uint8Array(randomBytes(1000)) as Uint8Array<ArrayBuffer>;
  const wrongDigest = digestOf(new Uint8Array(randomBytes(1000)));
  const blobs: Record<string, Uint8Array<ArrayBuffer>> = {
    [digest]: good,
    [wrongDigest]: wrong,
  };
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const match = new URL(req.url).pathname.match(
        /^\/v2\/test\/repo\/blobs\/(.+)$/,
      );
      const data = match && blobs[match[1]];
      if (!data) return new Response("unknown", { status: 404 });
      return new Response(req.method === "HEAD" ? null : data, {
        headers: { "content-length": String(data.length) },
      });
    },
  );
  const host = `127.0.0.1:${server.addr.port}`;
  const fetched = await berthCtr(daemon, [
    "content",
    "fetch-blob",
    "--plain-http",
    "--label",
    "origin=test",
    `${host}/test/repo@${digest}`,
  ]);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.equal(fetched.stdout, `${digest}\n`);
  const get = await daemon.ctr(["content", "ls"]);
  assert.match(get.stdout, new RegExp(`${digest}\t2.5MB\t.*\torigin=test\n`));
  const stored = await berthCtr(daemon, ["content", "get", digest]);
  assert.equal(digestOf(stored.bytes), digest);

  const refused = await berthCtr(daemon, [
    "content",
    "fetch-blob",
    "--plain-http",
    `${host}/test/repo@${wrongDigest}`,
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /digest mismatch/);
  const ls = await berthCtr(daemon, ["content", "ls", "-q"]);
  assert.equal(ls.stdout, `${digest}\n`);
});
