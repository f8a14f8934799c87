import assert from "node:assert/strict";
import { parseDigest, rechunk } from "./content.ts";

const HEX = "0123456789abcdef".repeat(4);

Deno.test("parseDigest accepts and rejects as go-digest does", () => {
  assert.equal(parseDigest(`sha256:${HEX}`), `sha256:${HEX}`);
  assert.throws(
    () => parseDigest("nonsense"),
    /invalid checksum digest format/,
  );
  assert.throws(() => parseDigest("sha256:"), /invalid checksum digest format/);
  assert.throws(
    () => parseDigest("sha256:12"),
    /invalid checksum digest length/,
  );
  assert.throws(
    () => parseDigest(`sha256:${HEX.toUpperCase()}`),
    /invalid checksum digest format/,
  );
  assert.throws(() => parseDigest("md5:abc"), /unsupported digest algorithm/);
  assert.throws(() => parseDigest("MD5:abc"), /invalid checksum digest format/);
});

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const chunk of chunks) out.push([...chunk]);
  return out;
}

async function* source(...parts: number[][]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new Uint8Array(part);
}

Deno.test("rechunk regroups bytes into fixed chunks", async () => {
  assert.deepEqual(
    await collect(rechunk(source([1, 2], [3, 4, 5], [], [6, 7]), 3)),
    [[1, 2, 3], [4, 5, 6], [7]],
  );
  assert.deepEqual(await collect(rechunk(source(), 3)), []);
});

Deno.test("rechunk skips a resume offset across chunk boundaries", async () => {
  assert.deepEqual(
    await collect(rechunk(source([1, 2], [3, 4, 5], [6]), 2, 3n)),
    [[4, 5], [6]],
  );
  assert.deepEqual(
    await collect(rechunk(source([1, 2], [3]), 2, 2n)),
    [[3]],
  );
  await assert.rejects(
    collect(rechunk(source([1, 2]), 2, 5n)),
    /unable to discard to offset/,
  );
});
