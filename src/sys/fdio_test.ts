import assert from "node:assert/strict";
import { closeFd, pipe, readFd, setBlocking, writeFd } from "./fdio.ts";

Deno.test("a pipe carries bytes and ends when its writer closes", async () => {
  const [r, w] = pipe();
  try {
    setBlocking(r);
    assert.equal(await writeFd(w, new TextEncoder().encode("hello")), true);
    const buffer = new Uint8Array(16);
    const n = await readFd(r, buffer);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "hello");
    closeFd(w);
    assert.equal(await readFd(r, buffer), 0);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

Deno.test("writing to a pipe without a reader reports the peer gone", async () => {
  const [r, w] = pipe();
  closeFd(r);
  try {
    assert.equal(await writeFd(w, new Uint8Array([1])), false);
  } finally {
    closeFd(w);
  }
});
