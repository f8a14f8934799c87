import assert from "node:assert/strict";
import { withPipedBytes } from "./spec_pipe.ts";

Deno.test("withPipedBytes: a reader of the path gets the bytes, then end of file", async () => {
  for (const size of [2_000, 1 << 20]) {
    const bytes = new Uint8Array(size).map((_, i) => i % 251);
    const read = await withPipedBytes(bytes, async (path) => {
      const file = await Deno.open(path, { read: true });
      try {
        return new Uint8Array(await new Response(file.readable).arrayBuffer());
      } catch (err) {
        file.close();
        throw err;
      }
    });
    assert.deepEqual(read, bytes);
  }
});

Deno.test("withPipedBytes: a user that fails before reading more than a pipe holds does not hang it", async () => {
  await assert.rejects(
    withPipedBytes(new Uint8Array(1 << 20), () => {
      return Promise.reject(new Error("runc failed"));
    }),
    /runc failed/,
  );
});
