import assert from "node:assert/strict";
import { closeFd, pipe, readFd, setNonBlocking, writeFd } from "../sys/fdio.ts";
import { countingTimers } from "../sys/_testing.ts";
import { Copy } from "./pump.ts";

Deno.test("a copy moves a process's output and ends with its writer, arming no timer", async () => {
  const [source, processEnd] = pipe();
  const [clientEnd, target] = pipe();
  setNonBlocking(source);
  setNonBlocking(target);
  let timers;
  try {
    timers = await countingTimers(async () => {
      const written = new TextEncoder().encode("hello\n");
      assert.ok(await writeFd(processEnd, written));
      closeFd(processEnd);
      const copy = new Copy(source, target);
      await copy.done;
      const buffer = new Uint8Array(64);
      const n = await readFd(clientEnd, buffer);
      assert.equal(
        new TextDecoder().decode(buffer.subarray(0, n)),
        "hello\n",
      );
      // Its end: the target is closed too.
      assert.equal(await readFd(clientEnd, buffer), 0);
    });
  } finally {
    closeFd(clientEnd);
  }
  // Deno fires a setTimeout(…, 0) 2 ms or more later: none on this path.
  assert.equal(timers, 0);
});

Deno.test("a copy ends with its writer when what was left fills the target exactly", async () => {
  // The source is then empty and hung up but a transfer says "again" (the
  // target is full), not 0: the copy ends, it does not wait for room.
  const [source, processEnd] = pipe();
  const [clientEnd, target] = pipe();
  setNonBlocking(source);
  setNonBlocking(target);
  try {
    const full = new Uint8Array(1 << 16); // a pipe's default size
    assert.ok(await writeFd(processEnd, full));
    closeFd(processEnd);
    const copy = new Copy(source, target);
    await copy.drain();
    await copy.done;
    let read = 0;
    const buffer = new Uint8Array(1 << 16);
    for (let n; (n = await readFd(clientEnd, buffer)) > 0;) read += n;
    assert.equal(read, full.length);
  } finally {
    closeFd(clientEnd);
  }
});
