import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { digestingStream, gzipStream } from "./compress.ts";

function source(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

/** The same 2 MB every call: runs of one byte, and noise. */
function sample(): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let seed = 42;
  for (let i = 0; i < 40; i++) {
    const chunk = new Uint8Array(50_000);
    if (i % 2) {
      for (let k = 0; k < chunk.length; k++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        chunk[k] = seed >>> 24;
      }
    } else chunk.fill(i);
    chunks.push(chunk);
  }
  return chunks;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return concat(chunks);
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

Deno.test("gzipStream round-trips at every level", async () => {
  const input = concat(sample());
  for (const level of [0, 1, 6, 9]) {
    const gz = await collect(gzipStream(source(sample()), { level }));
    assert.deepEqual(gz.subarray(0, 2), new Uint8Array([0x1f, 0x8b]));
    assert.deepEqual(new Uint8Array(gunzipSync(gz)), input);
  }
});

Deno.test("gzipStream of nothing is a valid empty gzip", async () => {
  const gz = await collect(gzipStream(source([])));
  assert.equal(gunzipSync(gz).length, 0);
});

Deno.test("gzipStream rejects a bad level", () => {
  assert.throws(() => gzipStream(source([]), { level: 10 }), RangeError);
});

Deno.test("gzipStream passes on an input error", async () => {
  const failing = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(10));
      controller.error(new Error("disk on fire"));
    },
  });
  await assert.rejects(collect(gzipStream(failing)), /disk on fire/);
});

Deno.test("gzipStream cancel cancels the input", async () => {
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = new Uint8Array(65536);
      crypto.getRandomValues(chunk);
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  const reader = gzipStream(endless).getReader();
  await reader.read();
  await reader.cancel();
  assert.ok(cancelled);
});

Deno.test("digestingStream gives both digests and sizes in one pass", async () => {
  const input = concat(sample());
  const tar = digestingStream(source(sample()));
  const blob = digestingStream(gzipStream(tar.stream, { level: 1 }));
  const gz = await collect(blob.stream);
  assert.deepEqual(await blob.result, { digest: sha256(gz), size: gz.length });
  assert.deepEqual(await tar.result, {
    digest: sha256(input),
    size: input.length,
  });
});

Deno.test("digestingStream rejects its result on error or cancel", async () => {
  const failing = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.error(new Error("broken"));
    },
  });
  const d = digestingStream(failing);
  await assert.rejects(collect(d.stream), /broken/);
  await assert.rejects(d.result, /broken/);

  const c = digestingStream(source(sample()));
  await c.stream.cancel(new Error("stop"));
  await assert.rejects(c.result, /stop/);
});
