import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ContentDeleteSchema } from "../gen/containerd/events/content_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  WriteAction,
  type WriteContentRequestSchema,
} from "../gen/containerd/services/content/v1/content_pb.ts";
import type { ContentInfo, NamespacedWriterOptions } from "../metadata/mod.ts";
import type { IngestStatus } from "../content/mod.ts";
import { BerthError, Code as StatusCode, notFound } from "../types/mod.ts";
import { Content, type ContentRecords, contentService } from "./content.ts";
import { RecordingPublisher, routerClient } from "./_testing.ts";

const AT = new Date(Date.UTC(2024, 8, 1, 0, 0, 1));
const DIGEST = `sha256:${"b".repeat(64)}`;
const BLOB = new TextEncoder().encode("0123456789");

/** One blob, one ingest; the writer logs what the adapter asks of it. */
function fakeStore() {
  const log: string[] = [];
  const infos = new Map<string, ContentInfo>([[DIGEST, {
    digest: DIGEST,
    size: BLOB.length,
    createdAt: AT,
    updatedAt: AT,
    labels: { a: "1" },
  }]]);
  const reads: { offset?: number; size?: number }[] = [];
  const writers: NamespacedWriterOptions[] = [];
  let written = new Uint8Array();
  const status = (ref: string): IngestStatus => ({
    ref,
    offset: written.length,
    total: 10,
    expected: "",
    startedAt: AT,
    updatedAt: AT,
  });
  const info = (_ns: string, digest: string) => {
    const found = infos.get(digest);
    if (!found) throw notFound(`content digest ${digest}`);
    return found;
  };
  const store: ContentRecords = {
    info,
    update(ns, update, paths) {
      log.push(`update ${update.digest} ${paths?.join(",")}`);
      return { ...info(ns, update.digest), labels: update.labels };
    },
    list: () => [...infos.values()],
    delete(ns, digest) {
      info(ns, digest);
      infos.delete(digest);
    },
    read(ns, digest, options = {}) {
      const blob = info(ns, digest);
      reads.push(options);
      const offset = options.offset ?? 0;
      if (offset > blob.size) {
        throw new BerthError(StatusCode.OutOfRange, `offset ${offset}`);
      }
      const end = options.size ? offset + options.size : BLOB.length;
      // Two chunks, so the answers' offsets must advance.
      const middle = Math.min(offset + 3, end);
      return (async function* () {
        yield BLOB.slice(offset, middle);
        if (middle < end) yield BLOB.slice(middle, end);
      })();
    },
    status: (_ns, ref) => Promise.resolve(status(ref)),
    listStatuses: () => Promise.resolve([status("r1")]),
    writer(_ns, options) {
      writers.push(options);
      return Promise.resolve({
        status: () => Promise.resolve(status(options.ref)),
        digest: () => `sha256:${written.length}`,
        write(data) {
          log.push(`write ${data.length}`);
          written = new Uint8Array([...written, ...data]);
          return Promise.resolve();
        },
        truncate(size) {
          log.push(`truncate ${size}`);
          written = new Uint8Array();
          return Promise.resolve();
        },
        commit(options) {
          log.push(
            `commit ${options.size} ${options.expected} ${
              JSON.stringify(options.labels)
            }`,
          );
          return Promise.resolve(DIGEST);
        },
        close() {
          log.push("close");
          return Promise.resolve();
        },
      });
    },
    abort(_ns, ref) {
      log.push(`abort ${ref}`);
      return Promise.resolve();
    },
  };
  return {
    store,
    log,
    reads,
    writers,
    preload: (n: number) => written = BLOB.slice(0, n),
  };
}

function setup() {
  const fake = fakeStore();
  const events = new RecordingPublisher();
  const client = routerClient(
    Content,
    contentService({ store: fake.store, events }),
    { namespace: "ns1", lease: "l1" },
  );
  return { ...fake, events, client };
}

type WriteInit = MessageInitShape<typeof WriteContentRequestSchema>;

async function write(
  client: ReturnType<typeof setup>["client"],
  requests: WriteInit[],
) {
  const answers = [];
  for await (
    const res of client.write((async function* () {
      yield* requests;
    })())
  ) answers.push(res);
  return answers;
}

Deno.test("Content.Info and List map sizes, times and labels; a missing blob is NotFound", async () => {
  const { client } = setup();
  const { info } = await client.info({ digest: DIGEST });
  assert.deepEqual(
    [info?.digest, info?.size, info?.labels],
    [DIGEST, 10n, { a: "1" }],
  );
  assert.equal(info?.createdAt?.seconds, BigInt(AT.getTime() / 1000));
  const listed = [];
  for await (const res of client.list({})) listed.push(...res.info);
  assert.deepEqual(listed.map((i) => i.digest), [DIGEST]);
  const other = `sha256:${"c".repeat(64)}`;
  await assert.rejects(client.info({ digest: other }), {
    code: Code.NotFound,
    rawMessage: `content digest ${other}: not found`,
  });
});

Deno.test("Content.Update needs an info and passes the mask", async () => {
  const { log, client } = setup();
  await assert.rejects(client.update({}), {
    code: Code.InvalidArgument,
    rawMessage: "info must be set: invalid argument",
  });
  const res = await client.update({
    info: { digest: DIGEST, labels: { b: "2" } },
    updateMask: { paths: ["labels.b"] },
  });
  assert.deepEqual(res.info?.labels, { b: "2" });
  assert.deepEqual(log, [`update ${DIGEST} labels.b`]);
});

Deno.test("Content.Delete publishes /content/delete naming the digest", async () => {
  const { events, client } = setup();
  await client.delete({ digest: DIGEST });
  assert.deepEqual(events.topics(), ["ns1 /content/delete"]);
  const event = fromBinary(
    ContentDeleteSchema,
    events.published[0].event.value,
  );
  assert.equal(event.digest, DIGEST);
  await assert.rejects(client.delete({ digest: DIGEST }), {
    code: Code.NotFound,
  });
  assert.equal(events.published.length, 1);
});

Deno.test("Content.Read: negative offset reads from 0, size 0 to the end, each answer carries its offset", async () => {
  const { reads, client } = setup();
  const chunks = async (offset: bigint, size: bigint) => {
    const got: [bigint, string][] = [];
    for await (const res of client.read({ digest: DIGEST, offset, size })) {
      got.push([res.offset, new TextDecoder().decode(res.data)]);
    }
    return got;
  };
  assert.deepEqual(await chunks(-5n, 0n), [[0n, "012"], [3n, "3456789"]]);
  assert.deepEqual(await chunks(4n, 4n), [[4n, "456"], [7n, "7"]]);
  assert.deepEqual(reads, [{ offset: 0, size: 0 }, { offset: 4, size: 4 }]);
  await assert.rejects(chunks(11n, 0n), { code: Code.OutOfRange });
  await assert.rejects(
    (async () => {
      for await (const _ of client.read({ digest: "sha256:nothex" })) {
        // never reached
      }
    })(),
    { code: Code.InvalidArgument },
  );
});

Deno.test("Content.Write: STAT answers the ingest's progress; WRITE and COMMIT pass data, total, digest, labels and the lease", async () => {
  const { log, writers, client } = setup();
  const answers = await write(client, [
    { action: WriteAction.STAT, ref: "r1", total: 10n },
    { action: WriteAction.WRITE, ref: "r1", data: BLOB.slice(0, 4) },
    {
      action: WriteAction.COMMIT,
      ref: "r1",
      offset: 4n,
      data: BLOB.slice(4),
      expected: DIGEST,
      labels: { k: "v" },
    },
  ]);
  assert.deepEqual(writers, [{
    ref: "r1",
    total: 10,
    expected: "",
    lease: "l1",
  }]);
  assert.deepEqual(
    answers.map((a) => [a.action, a.offset, a.total, a.digest]),
    [
      [WriteAction.STAT, 0n, 10n, "sha256:0"],
      [WriteAction.WRITE, 4n, 0n, "sha256:4"],
      [WriteAction.COMMIT, 10n, 0n, "sha256:10"],
    ],
  );
  assert.equal(answers[0].startedAt?.seconds, BigInt(AT.getTime() / 1000));
  assert.deepEqual(log, [
    "write 4",
    "write 6",
    `commit 10 ${DIGEST} {"k":"v"}`,
    "close",
  ]);
});

Deno.test("Content.Write refuses what containerd refuses, always letting the ref go", async () => {
  const cases: [WriteInit[], Code, string | undefined][] = [
    [
      [{ action: WriteAction.STAT }],
      Code.InvalidArgument,
      "first message must have a reference: invalid argument",
    ],
    [
      [{ action: WriteAction.STAT, ref: "r1", total: -1n }],
      Code.InvalidArgument,
      "total -1 is out of range: invalid argument",
    ],
    [
      [{ action: WriteAction.WRITE, ref: "r1", offset: 7n, data: BLOB }],
      Code.OutOfRange,
      "write @7 must occur at current offset 2: out of range",
    ],
    [
      [{
        action: WriteAction.WRITE,
        ref: "r1",
        total: 10n,
        offset: 2n,
        data: BLOB,
      }],
      Code.OutOfRange,
      "write of 10 bytes at offset 2 passes total 10: out of range",
    ],
    [
      [{ action: WriteAction.STAT, ref: "r1", expected: "sha256:x" }],
      Code.InvalidArgument,
      undefined,
    ],
    [
      [{ action: 9 as WriteAction, ref: "r1" }],
      Code.InvalidArgument,
      "unknown write action 9: invalid argument",
    ],
  ];
  for (const [requests, code, rawMessage] of cases) {
    const { log, writers, preload, client } = setup();
    preload(2);
    await assert.rejects(
      write(client, requests),
      rawMessage ? { code, rawMessage } : { code },
      JSON.stringify(requests, (_, v) => typeof v === "bigint" ? `${v}` : v),
    );
    assert.ok(!log.some((l) => l.startsWith("write")), String(log));
    // A writer that was opened is closed.
    assert.equal(log.includes("close"), writers.length > 0);
  }
});

Deno.test("Content.Write at offset 0 over written bytes restarts the ingest", async () => {
  const { log, preload, client } = setup();
  preload(6);
  const answers = await write(client, [
    {
      action: WriteAction.WRITE,
      ref: "r1",
      offset: 0n,
      data: BLOB.slice(0, 2),
    },
  ]);
  assert.equal(answers[0].offset, 2n);
  assert.deepEqual(log, ["truncate 0", "write 2", "close"]);
});

Deno.test("Content.Status, ListStatuses and Abort map the ingest", async () => {
  const { log, client } = setup();
  const { status } = await client.status({ ref: "r9" });
  assert.deepEqual(
    [status?.ref, status?.offset, status?.total],
    ["r9", 0n, 10n],
  );
  const listed = await client.listStatuses({});
  assert.deepEqual(listed.statuses.map((s) => s.ref), ["r1"]);
  await client.abort({ ref: "r9" });
  assert.deepEqual(log, ["abort r9"]);
});
