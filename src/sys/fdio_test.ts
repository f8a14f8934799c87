import assert from "node:assert/strict";
import * as net from "node:net";
import {
  closeFd,
  closeOnExecAll,
  pipe,
  readFd,
  setNonBlocking,
  writeFd,
} from "./fdio.ts";

Deno.test("a pipe carries bytes and ends when its writer closes", async () => {
  const [r, w] = pipe();
  try {
    setNonBlocking(r);
    setNonBlocking(w);
    const buffer = new Uint8Array(16);
    // The read waits for what is written after it began.
    const reading = readFd(r, buffer);
    assert.equal(await writeFd(w, new TextEncoder().encode("hello")), true);
    const n = await reading;
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

Deno.test("a write to a full pipe waits until the reader makes room", async () => {
  const [r, w] = pipe();
  try {
    setNonBlocking(r);
    setNonBlocking(w);
    const data = new Uint8Array(256 * 1024).fill(7);
    const writing = writeFd(w, data);
    let total = 0;
    const buffer = new Uint8Array(64 * 1024);
    while (total < data.length) total += await readFd(r, buffer);
    assert.equal(await writing, true);
    assert.equal(total, data.length);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

Deno.test("many waiting reads hold no worker thread each: file I/O goes on", async () => {
  // Deno has ~32 threads for blocking calls; 64 reads waiting on them
  // would leave none for the file read below.
  const pipes = Array.from({ length: 64 }, () => pipe());
  try {
    const reads = pipes.map(([r]) => {
      setNonBlocking(r);
      return readFd(r, new Uint8Array(8));
    });
    assert.ok((await Deno.readTextFile("/proc/self/status")).length > 0);
    for (const [, w] of pipes) await writeFd(w, new Uint8Array([1]));
    assert.deepEqual(await Promise.all(reads), pipes.map(() => 1));
  } finally {
    for (const [r, w] of pipes) {
      closeFd(r);
      closeFd(w);
    }
  }
});

/** Descriptors from 3 up that a child would inherit. */
function inheritable(): number[] {
  const fds: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(entry.name);
    if (fd < 3) continue;
    try {
      const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
      const flags = parseInt(info.match(/^flags:\s+(\d+)/m)![1], 8);
      if (!(flags & 0o2000000)) fds.push(fd);
    } catch { /* the listing's own descriptor, closed */ }
  }
  return fds;
}

Deno.test("closeOnExecAll leaves no descriptor a child would inherit", async () => {
  const dir = await Deno.makeTempDir();
  const server = net.createServer();
  try {
    // A node:net UNIX listening socket is opened without close-on-exec.
    await new Promise<void>((r) => server.listen(`${dir}/s.sock`, r));
    closeOnExecAll();
    assert.deepEqual(inheritable(), []);
  } finally {
    await new Promise((r) => server.close(r));
    await Deno.remove(dir, { recursive: true });
  }
});
