import assert from "node:assert/strict";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { Code } from "../types/mod.ts";
import { assertBerthError, concatBytes, streamOf } from "./_testing.ts";
import {
  decompressLayer,
  detectCompression,
  LayerMediaType,
  mediaTypeCompression,
} from "./decompress.ts";

async function collect(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return concatBytes(chunks);
}

const payload = new TextEncoder().encode("layer data ".repeat(50_000));

Deno.test("detectCompression reads gzip, zstd (and skippable frames) magic", () => {
  assert.equal(detectCompression(gzipSync(payload)), "gzip");
  assert.equal(detectCompression(zstdCompressSync(payload)), "zstd");
  assert.equal(
    detectCompression(new Uint8Array([0x5a, 0x2a, 0x4d, 0x18, 0, 0, 0, 0])),
    "zstd",
  );
  assert.equal(detectCompression(payload), "none");
  assert.equal(detectCompression(new Uint8Array()), "none");
});

Deno.test("mediaTypeCompression knows OCI, non-distributable and docker layers", () => {
  assert.equal(mediaTypeCompression(LayerMediaType.OCI), "none");
  assert.equal(mediaTypeCompression(LayerMediaType.OCI_FOREIGN_ZSTD), "zstd");
  assert.equal(
    mediaTypeCompression(LayerMediaType.DOCKER_FOREIGN_GZIP),
    "gzip",
  );
  assert.equal(mediaTypeCompression(LayerMediaType.DOCKER), "unknown");
  assert.equal(
    mediaTypeCompression(`${LayerMediaType.OCI_GZIP}; charset=x`),
    "gzip",
  );
  for (
    const bad of [`${LayerMediaType.OCI_GZIP}+encrypted`, "application/json"]
  ) {
    assert.throws(
      () => mediaTypeCompression(bad),
      (e: Error & { code?: Code }) => e.code === Code.Unimplemented,
    );
  }
});

Deno.test("decompressLayer round-trips gzip, zstd and plain, even byte by byte", async () => {
  for (
    const [bytes, compression] of [
      [gzipSync(payload), "gzip"],
      [
        concatBytes([
          gzipSync(payload.subarray(0, 1000)),
          gzipSync(payload.subarray(1000)),
        ]),
        "gzip",
      ],
      [zstdCompressSync(payload), "zstd"],
      [payload, "none"],
    ] as const
  ) {
    for (
      const chunkSize of compression === "none" ? [7, 65536] : [1, 7, 65536]
    ) {
      const layer = await decompressLayer(streamOf(bytes, chunkSize));
      assert.equal(layer.compression, compression);
      assert.deepEqual(await collect(layer.stream), payload);
    }
  }
});

Deno.test("decompressLayer accepts async iterables and trusts magic over the media type", async () => {
  async function* source() {
    yield gzipSync(payload);
  }
  const layer = await decompressLayer(source(), LayerMediaType.OCI);
  assert.equal(layer.compression, "gzip");
  assert.deepEqual(await collect(layer.stream), payload);
});

Deno.test("decompressLayer refuses unknown media types and reports corrupt data", async () => {
  await assertBerthError(
    decompressLayer(
      streamOf(payload),
      "application/vnd.oci.image.layer.v1.tar+bzip2",
    ),
    Code.Unimplemented,
    /bzip2/,
  );
  const gz = gzipSync(payload);
  const truncated = gz.subarray(0, gz.length / 2);
  const layer = await decompressLayer(streamOf(truncated));
  await assertBerthError(
    collect(layer.stream),
    Code.InvalidArgument,
    /gzip decompression failed/,
  );
  const zst = zstdCompressSync(payload);
  zst[zst.length - 3] ^= 0xff;
  await assertBerthError(
    collect((await decompressLayer(streamOf(zst))).stream),
    Code.InvalidArgument,
    /zstd decompression failed/,
  );
});

Deno.test("decompressLayer passes source errors through and cancels the source", async () => {
  let cancelled = false;
  let sent = false;
  const failing = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(gzipSync(payload).subarray(0, 100));
      } else controller.error(new Error("network down"));
    },
  });
  const layer = await decompressLayer(failing);
  await assert.rejects(collect(layer.stream), /network down/);

  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(payload);
    },
    cancel() {
      cancelled = true;
    },
  });
  const plain = await decompressLayer(endless);
  const reader = plain.stream.getReader();
  await reader.read();
  await reader.cancel();
  assert.ok(cancelled);
});

Deno.test("decompressLayer ignores zero padding after a gzip stream", async () => {
  const padded = concatBytes([gzipSync(payload), new Uint8Array(4096)]);
  const layer = await decompressLayer(streamOf(padded, 1000));
  assert.deepEqual(await collect(layer.stream), payload);
});
