import assert from "node:assert/strict";
import { Code } from "../types/mod.ts";
import { MemoryContent, readAll, rejectsWith, sha256 } from "./_testing.ts";
import {
  bytesStream,
  collect,
  readBlob,
  tryInfo,
  writeBlob,
} from "./content.ts";

Deno.test("readBlob reads a small blob whole", async () => {
  const content = new MemoryContent();
  const desc = content.add(new Uint8Array(2500).fill(7));
  const bytes = await readBlob(content, desc);
  assert.equal(bytes.byteLength, 2500);
});

Deno.test("readBlob refuses an oversized blob before reading it", async () => {
  const content = new MemoryContent();
  const desc = content.add(new Uint8Array(5000));
  await rejectsWith(
    () => readBlob(content, desc, 4096),
    Code.ResourceExhausted,
    /exceeds the limit of 4096 bytes/,
  );
  // A descriptor that understates the size: the store's size decides.
  await rejectsWith(
    () => readBlob(content, { ...desc, size: 10 }, 4096),
    Code.ResourceExhausted,
  );
  assert.deepEqual(content.reads, []);
});

Deno.test("collect stops at the limit", async () => {
  async function* endless() {
    for (;;) yield new Uint8Array(1000);
  }
  await rejectsWith(
    () => collect(endless(), 4000, "x"),
    Code.ResourceExhausted,
  );
});

Deno.test("readBlob of a missing blob is NotFound", async () => {
  const content = new MemoryContent();
  await rejectsWith(
    () => readBlob(content, { digest: sha256("x"), size: 1 }),
    Code.NotFound,
  );
  assert.equal(await tryInfo(content, sha256("x")), undefined);
});

Deno.test("writeBlob treats an existing blob as written and labels it", async () => {
  const content = new MemoryContent();
  const bytes = new TextEncoder().encode("hello");
  const desc = content.add(bytes);
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
  });
  const result = await writeBlob(content, "ref", stream, {
    expected: desc.digest,
    size: 5,
    labels: { a: "b" },
  });
  assert.deepEqual(result, { digest: desc.digest, size: 5 });
  assert.ok(cancelled);
  assert.deepEqual(content.labels(desc.digest), { a: "b" });
});

Deno.test("writeBlob fails on a wrong digest and stores nothing", async () => {
  const content = new MemoryContent();
  await rejectsWith(
    () =>
      writeBlob(content, "ref", bytesStream(new TextEncoder().encode("x")), {
        expected: sha256("y"),
      }),
    Code.FailedPrecondition,
  );
  assert.equal(content.blobs.size, 0);
  assert.deepEqual(
    await readAll(bytesStream(new Uint8Array(0))),
    new Uint8Array(0),
  );
});
