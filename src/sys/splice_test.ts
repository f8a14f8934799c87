import assert from "node:assert/strict";
import { duplicate, growPipe, readable, splice } from "./splice.ts";
import { closeFd, pipe, readFd, setNonBlocking, writeFd } from "./fdio.ts";

Deno.test("splice moves bytes between pipes, says again when empty, throws without a reader", async () => {
  const [r1, w1] = pipe();
  const [r2, w2] = pipe();
  try {
    setNonBlocking(r1);
    setNonBlocking(w2);
    growPipe(r1, 1 << 20);
    assert.equal(splice(r1, w2, 1024), "again");
    assert.equal(readable(r1), false);
    await writeFd(w1, new TextEncoder().encode("moved"));
    assert.equal(readable(r1), true);
    assert.equal(splice(r1, w2, 1024), 5);
    const buffer = new Uint8Array(16);
    assert.equal(await readFd(r2, buffer), 5);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, 5)), "moved");
    closeFd(r2);
    await writeFd(w1, new Uint8Array([1]));
    assert.throws(() => splice(r1, w2, 1024), /splice/);
  } finally {
    for (const fd of [r1, w1, r2, w2]) closeFd(fd);
  }
});

Deno.test("a pipe whose writers are gone is readable and splices 0", () => {
  const [r, w] = pipe();
  const [r2, w2] = pipe();
  const copy = duplicate(w);
  try {
    setNonBlocking(r);
    closeFd(w);
    assert.equal(readable(r), false); // the duplicate still writes
    closeFd(copy);
    assert.equal(readable(r), true);
    assert.equal(splice(r, w2, 1024), 0);
  } finally {
    for (const fd of [r, r2, w2]) closeFd(fd);
  }
});
