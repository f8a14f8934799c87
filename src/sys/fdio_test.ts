import assert from "node:assert/strict";
import * as net from "node:net";
import {
  closeFd,
  closeOnExecAll,
  pipe,
  readFd,
  setBlocking,
  writeFd,
} from "./fdio.ts";

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
