import assert from "node:assert/strict";
import { join } from "node:path";
import { ConsoleSocket } from "./console_socket.ts";
import { closeFd, readFd } from "./fdio.ts";
import { countingTimers } from "./_testing.ts";

/**
 * Python standing in for runc: connects to `path` after `delay` seconds,
 * and sends `file` opened to read, with a name, after as long again.
 */
function sendFile(path: string, file: string, delay = 0): Deno.ChildProcess {
  return new Deno.Command("python3", {
    args: [
      "-c",
      "import socket,sys,os,time\n" +
      "d=float(sys.argv[3])\ntime.sleep(d)\n" +
      "s=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n" +
      "time.sleep(d)\n" +
      "socket.send_fds(s,[b'/dev/pts/0'],[os.open(sys.argv[2],os.O_RDONLY)])",
      path,
      file,
      String(delay),
    ],
  }).spawn();
}

Deno.test("a console socket receives a descriptor sent with SCM_RIGHTS", async () => {
  const dir = await Deno.makeTempDir();
  const socket = ConsoleSocket.listen(join(dir, "console.sock"));
  try {
    const file = join(dir, "payload");
    await Deno.writeTextFile(file, "through the socket");
    const sender = sendFile(socket.path, file);
    const fd = await socket.receive({ signal: AbortSignal.timeout(10_000) });
    assert.equal((await sender.status).code, 0);
    const buffer = new Uint8Array(64);
    const n = await readFd(fd, buffer);
    closeFd(fd);
    assert.equal(
      new TextDecoder().decode(buffer.subarray(0, n)),
      "through the socket",
    );
  } finally {
    socket.close();
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(() => Deno.lstat(socket.path), Deno.errors.NotFound);
});

Deno.test("receiving gives up when aborted", async () => {
  const dir = await Deno.makeTempDir();
  const socket = ConsoleSocket.listen(join(dir, "c.sock"));
  try {
    await assert.rejects(
      socket.receive({ signal: AbortSignal.timeout(50) }),
      (err: Error) => err.name === "TimeoutError",
    );
  } finally {
    socket.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receiving waits on the poll loop for the connection and the descriptor, no timer polls", async () => {
  const dir = await Deno.makeTempDir();
  const socket = ConsoleSocket.listen(join(dir, "slow.sock"));
  try {
    const file = join(dir, "payload");
    await Deno.writeTextFile(file, "late");
    const signal = AbortSignal.timeout(10_000);
    let fd = -1;
    const armed = await countingTimers(async () => {
      const sender = sendFile(socket.path, file, 0.2);
      fd = await socket.receive({ signal });
      assert.equal((await sender.status).code, 0);
    });
    const buffer = new Uint8Array(16);
    const n = await readFd(fd, buffer);
    closeFd(fd);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "late");
    assert.equal(armed, 0);
  } finally {
    socket.close();
    await Deno.remove(dir, { recursive: true });
  }
});
