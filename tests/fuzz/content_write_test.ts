/**
 * Fuzzing the content writer's state machine (what `Content.Write` drives,
 * src/metadata/content.ts over src/content/): random sequences of opens,
 * writes, truncates, commits, closes and restarts, in two namespaces that
 * share blobs. Whatever the sequence:
 *
 * - every failure is a BerthError, and a failed write leaves the offset;
 * - a committed blob reads back with its digest, in the namespace that
 *   committed it;
 * - afterwards, the same write done cleanly completes, in each namespace:
 *   of the blob a ref was opened for (unless the ref was opened for two
 *   blobs: its recorded total then refuses the other, as containerd's), and
 *   of each blob under a new ref. A leftover ingest never blocks.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { LocalContentStore } from "../../src/content/mod.ts";
import {
  LeaseStore,
  MetadataDB,
  NamespacedContentStore,
  type NamespacedWriter,
  NamespaceStore,
} from "../../src/metadata/mod.ts";
import { BerthError, Code } from "../../src/types/mod.ts";
import { assertClearError, fuzzParameters } from "./_fuzz.ts";

const encoder = new TextEncoder();
const BLOBS = [
  encoder.encode("the first blob, shared between namespaces"),
  encoder.encode("a second blob"),
];
const digestOf = (bytes: Uint8Array) =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const DIGESTS = BLOBS.map(digestOf);

type Op =
  | {
    op: "open";
    ns: string;
    ref: string;
    blob: number;
    total: boolean;
    expected: boolean;
  }
  | { op: "write"; blob: number; from: number; to: number }
  | { op: "truncate" }
  | { op: "commit"; size: boolean; expected: boolean }
  | { op: "close" }
  | { op: "restart" };

const blob = fc.integer({ min: 0, max: BLOBS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("open" as const),
    ns: fc.constantFrom("a", "b"),
    ref: fc.constantFrom("r1", "r2"),
    blob,
    total: fc.boolean(),
    expected: fc.boolean(),
  }),
  fc.record({
    op: fc.constant("write" as const),
    blob,
    from: fc.nat({ max: 48 }),
    to: fc.nat({ max: 48 }),
  }),
  fc.constant({ op: "truncate" as const }),
  fc.record({
    op: fc.constant("commit" as const),
    size: fc.boolean(),
    expected: fc.boolean(),
  }),
  fc.constant({ op: "close" as const }),
  fc.constant({ op: "restart" as const }),
);

/** A store over `dir` and `db`, as a daemon (re)started on them has. */
function openStore(dir: string, db: MetadataDB): NamespacedContentStore {
  const namespaces = new NamespaceStore(db);
  return new NamespacedContentStore({
    db,
    blobs: new LocalContentStore({ root: dir }),
    namespaces,
    leases: new LeaseStore(db, namespaces),
  });
}

async function readAll(
  store: NamespacedContentStore,
  ns: string,
  digest: string,
) {
  const hash = createHash("sha256");
  for await (const chunk of store.read(ns, digest)) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

Deno.test("fuzz: content writes, truncates, commits and restarts keep the store whole", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 24 }), async (ops) => {
      const dir = await Deno.makeTempDir({ prefix: "berth-fuzz-content-" });
      const db = MetadataDB.open(`${dir}/meta.db`);
      let store = openStore(`${dir}/content`, db);
      let open:
        | { writer: NamespacedWriter; ns: string; blob: number }
        | undefined;
      /** The blob each namespace's ref was last opened for. */
      const attempts = new Map<
        string,
        { ns: string; ref: string; blob: number }
      >();
      const closeOpen = async () => {
        await open?.writer.close().catch(assertClearError);
        open = undefined;
      };
      try {
        for (const step of ops) {
          try {
            if (step.op === "open") {
              await closeOpen();
              const bytes = BLOBS[step.blob];
              const key = `${step.ns}/${step.ref}`;
              const earlier = attempts.get(key)?.blob ?? step.blob;
              attempts.set(key, {
                ...step,
                blob: earlier === step.blob ? step.blob : -1,
              });
              open = {
                writer: await store.writer(step.ns, {
                  ref: step.ref,
                  total: step.total ? bytes.length : undefined,
                  expected: step.expected ? DIGESTS[step.blob] : undefined,
                }),
                ns: step.ns,
                blob: step.blob,
              };
            } else if (!open) {
              continue;
            } else if (step.op === "write") {
              const chunk = BLOBS[step.blob].subarray(step.from, step.to);
              const before = (await open.writer.status()).offset;
              try {
                await open.writer.write(chunk);
                assert.equal(
                  (await open.writer.status()).offset,
                  before + chunk.length,
                );
              } catch (err) {
                assert.equal((await open.writer.status()).offset, before);
                throw err;
              }
            } else if (step.op === "truncate") {
              await open.writer.truncate(0);
              assert.equal((await open.writer.status()).offset, 0);
            } else if (step.op === "commit") {
              const bytes = BLOBS[open.blob];
              const digest = await open.writer.commit({
                size: step.size ? bytes.length : undefined,
                expected: step.expected ? DIGESTS[open.blob] : undefined,
              });
              assert.equal(await readAll(store, open.ns, digest), digest);
              await closeOpen();
            } else if (step.op === "close") {
              await closeOpen();
            } else if (step.op === "restart") {
              await closeOpen();
              store.blobs.close();
              store = openStore(`${dir}/content`, db);
            }
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            assertClearError(err);
          }
        }
        await closeOpen();
        // The same operation, done cleanly, completes now.
        const clean = [...attempts.values()].filter((a) => a.blob >= 0);
        for (const ns of ["a", "b"]) {
          for (const i of BLOBS.keys()) {
            clean.push({ ns, ref: `new-${i}`, blob: i });
          }
        }
        for (const { ns, ref, blob: i } of clean) {
          {
            {
              const bytes = BLOBS[i];
              let writer: NamespacedWriter;
              try {
                writer = await store.writer(ns, {
                  ref,
                  total: bytes.length,
                  expected: DIGESTS[i],
                });
              } catch (err) {
                if (BerthError.is(err, Code.AlreadyExists)) continue;
                throw err;
              }
              try {
                if ((await writer.status()).offset > 0) {
                  await writer.truncate(0);
                }
                await writer.write(bytes);
                await writer.commit({});
              } catch (err) {
                if (!BerthError.is(err, Code.AlreadyExists)) throw err;
              } finally {
                await writer.close();
              }
              assert.equal(await readAll(store, ns, DIGESTS[i]), DIGESTS[i]);
            }
          }
        }
      } finally {
        await closeOpen().catch(() => {});
        store.blobs.close();
        db.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
    fuzzParameters(60),
  );
});
