import assert from "node:assert/strict";
import { join } from "node:path";
import { ConsoleSocket } from "./console_socket.ts";
import { closeFd, readFd } from "./fdio.ts";

Deno.test("a console socket receives a descriptor sent with SCM_RIGHTS", async () => {
  const dir = await Deno.makeTempDir();
  const socket = ConsoleSocket.listen(join(dir, "console.sock"));
  try {
    const file = join(dir, "payload");
    await Deno.writeTextFile(file, "through the socket");
    // Python stands in for runc: connect, send the fd with a name.
    const sender = new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,sys,os\n" +
        "s=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n" +
        "socket.send_fds(s,[b'/dev/pts/0'],[os.open(sys.argv[2],os.O_RDONLY)])",
        socket.path,
        file,
      ],
    }).spawn();
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
