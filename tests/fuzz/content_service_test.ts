/**
 * Fuzzing the `Content.Write` stream as a client drives it (the real
 * service handler, src/services/content.ts, over an in-process transport):
 * random sessions of STAT, WRITE and COMMIT requests with offsets, totals
 * and digests right and wrong. Every refusal carries one of the codes
 * containerd gives (never Unknown or Internal), committed blobs verify,
 * and afterwards ctr's own resume-and-commit of each blob completes (under
 * a ref only ever written with that blob's right total, and under a new
 * one; after an Abort when the ref holds other bytes).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { LocalContentStore } from "../../src/content/mod.ts";
import { Exchange } from "../../src/events/mod.ts";
import {
  Content,
  WriteAction,
} from "../../src/gen/containerd/services/content/v1/content_pb.ts";
import {
  LeaseStore,
  MetadataDB,
  NamespacedContentStore,
  NamespaceStore,
} from "../../src/metadata/mod.ts";
import { contentService } from "../../src/services/content.ts";
import { routerClient } from "../../src/services/_testing.ts";
import { fuzzParameters } from "./_fuzz.ts";

const encoder = new TextEncoder();
const BLOBS = [
  encoder.encode("a blob written through Content.Write, resumed"),
  encoder.encode("and another one"),
];
const DIGESTS = BLOBS.map((b) =>
  `sha256:${createHash("sha256").update(b).digest("hex")}`
);

/** Codes a refusal of a Write may carry, as containerd's. */
const REFUSALS = new Set([
  ConnectCode.InvalidArgument,
  ConnectCode.NotFound,
  ConnectCode.AlreadyExists,
  ConnectCode.FailedPrecondition,
  ConnectCode.OutOfRange,
  ConnectCode.Unavailable,
]);

const request = fc.record({
  action: fc.constantFrom(
    WriteAction.STAT,
    WriteAction.WRITE,
    WriteAction.COMMIT,
  ),
  blob: fc.integer({ min: 0, max: BLOBS.length - 1 }),
  from: fc.nat({ max: 50 }),
  to: fc.nat({ max: 50 }),
  offset: fc.oneof(
    fc.constant("current"),
    fc.constant("zero"),
    fc.nat({ max: 60 }),
  ),
  total: fc.constantFrom("none", "right", "wrong"),
  expected: fc.constantFrom("none", "right", "wrong"),
});

const session = fc.record({
  ns: fc.constantFrom("a", "b"),
  ref: fc.constantFrom("r1", "r2"),
  requests: fc.array(request, { minLength: 1, maxLength: 6 }),
});

function clientOf(store: NamespacedContentStore, namespace: string) {
  return routerClient(
    Content,
    contentService({ store, events: new Exchange() }),
    { namespace },
  );
}

/** ctr's write: STAT, then the rest from the offset, then COMMIT. */
async function ctrWrite(
  client: ReturnType<typeof clientOf>,
  ref: string,
  blob: number,
) {
  const bytes = BLOBS[blob];
  const total = BigInt(bytes.length);
  const expected = DIGESTS[blob];
  const responses: { offset: bigint }[] = [];
  const requests = async function* () {
    yield { action: WriteAction.STAT, ref, total, expected };
    while (responses.length === 0) await Promise.resolve();
    const offset = Number(responses[0].offset);
    yield {
      action: WriteAction.COMMIT,
      ref,
      total,
      expected,
      offset: BigInt(offset),
      data: bytes.subarray(offset),
    };
  };
  for await (const response of client.write(requests())) {
    responses.push(response);
  }
}

Deno.test("fuzz: Content.Write streams refuse with containerd's codes and never block a later write", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(session, { maxLength: 6 }), async (sessions) => {
      const dir = await Deno.makeTempDir({ prefix: "berth-fuzz-write-" });
      const db = MetadataDB.open(`${dir}/meta.db`);
      const namespaces = new NamespaceStore(db);
      const store = new NamespacedContentStore({
        db,
        blobs: new LocalContentStore({ root: `${dir}/content` }),
        namespaces,
        leases: new LeaseStore(db, namespaces),
      });
      try {
        const refBlob = new Map<string, number>();
        for (const { ns, ref, requests } of sessions) {
          const client = clientOf(store, ns);
          let current = 0;
          const key = `${ns}/${ref}`;
          const stream = async function* () {
            for (const [i, r] of requests.entries()) {
              // A total the ref was opened with sticks to it, as in
              // containerd: a wrong one, or another blob's, refuses ctr.
              const same = r.total !== "wrong" &&
                (refBlob.get(key) ?? r.blob) === r.blob;
              refBlob.set(key, same ? r.blob : -1);
              const bytes = BLOBS[r.blob];
              const data = r.action === WriteAction.STAT
                ? new Uint8Array()
                : bytes.subarray(r.from, r.to);
              yield {
                action: r.action,
                ref: i === 0 ? ref : "",
                total: r.total === "none"
                  ? 0n
                  : BigInt(bytes.length + (r.total === "wrong" ? 1 : 0)),
                expected: r.expected === "none"
                  ? ""
                  : r.expected === "right"
                  ? DIGESTS[r.blob]
                  : DIGESTS[1 - r.blob],
                offset: BigInt(
                  r.offset === "current"
                    ? current
                    : r.offset === "zero"
                    ? 0
                    : r.offset,
                ),
                data,
              };
            }
          };
          try {
            for await (const response of client.write(stream())) {
              current = Number(response.offset);
              if (response.action === WriteAction.COMMIT) {
                const hash = createHash("sha256");
                for await (
                  const chunk of client.read({ digest: response.digest })
                ) {
                  hash.update(chunk.data);
                }
                assert.equal(`sha256:${hash.digest("hex")}`, response.digest);
              }
            }
          } catch (err) {
            assert.ok(err instanceof ConnectError, String(err));
            assert.ok(
              REFUSALS.has(err.code),
              `refused with ${ConnectCode[err.code]}: ${err.rawMessage}`,
            );
          }
        }
        // ctr's resume of what each ref was written for, and of new refs.
        const clean = [...refBlob].filter(([, blob]) => blob >= 0)
          .map(([key, blob]) => ({ key, blob }));
        for (const ns of ["a", "b"]) {
          for (const blob of BLOBS.keys()) {
            clean.push({ key: `${ns}/new-${blob}`, blob });
          }
        }
        for (const { key, blob } of clean) {
          const [ns, ref] = key.split("/");
          const client = clientOf(store, ns);
          const code = (err: unknown) =>
            err instanceof ConnectError ? err.code : undefined;
          try {
            await ctrWrite(client, ref, blob);
          } catch (err) {
            if (code(err) === ConnectCode.FailedPrecondition) {
              // Bytes the ref holds are not the blob's (a refused commit
              // keeps them, as containerd's): an abort clears the way.
              await client.abort({ ref });
              await ctrWrite(client, ref, blob).catch((again) => {
                if (code(again) !== ConnectCode.AlreadyExists) throw again;
              });
            } else if (code(err) !== ConnectCode.AlreadyExists) {
              throw err;
            }
          }
          assert.equal(
            (await client.info({ digest: DIGESTS[blob] })).info?.size,
            BigInt(BLOBS[blob].length),
          );
        }
      } finally {
        store.blobs.close();
        db.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
    fuzzParameters(25),
  );
});
