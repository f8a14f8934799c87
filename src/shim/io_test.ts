import assert from "node:assert/strict";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { ProcessIO } from "./io.ts";

/** Makes a FIFO at `path`. */
async function mkfifo(path: string): Promise<void> {
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success);
}

/**
 * Opens `path` to read without waiting for a writer and reads what is in
 * it, up to `length` bytes (less when it ends first).
 */
function readNow(path: string, length: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buffer = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buffer, got, length - got, null);
      if (n === 0) break;
      got += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

/**
 * The IO of a process that wrote `written` to FIFO `stdout` (no reader has
 * opened it) and exited; closed as the shim closes it at the exit.
 */
async function exitedWithOutput(
  stdout: string,
  written: string,
): Promise<ProcessIO> {
  await mkfifo(stdout);
  const io = await ProcessIO.open({
    stdin: "",
    stdout,
    stderr: "",
    terminal: false,
  });
  // The process: writes its output, then exits.
  const ran = await new Deno.Command("sh", {
    args: ["-c", 'printf "$1" >"$2"', "sh", written, io.files[1]],
  }).output();
  assert.ok(ran.success);
  await io.started();
  // As the shim does at the exit: the output drained, the IO closed.
  await io.drained();
  io.close();
  return io;
}

Deno.test("output reaches a client whose reader opens only after the process exited and its IO closed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stdout = `${dir}/out`;
    const written = "hello\n".repeat(10_000);
    const io = await exitedWithOutput(stdout, written);
    // Only now does the client's reader come: all the output is there.
    assert.equal(readNow(stdout, written.length), written);
    await io.abandonOutput();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output no reader came for is let go when the process is deleted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const io = await exitedWithOutput(`${dir}/out`, "lost\n");
    // Deleted without a reader: after the grace the held writer goes (the
    // test would not end with the watch left behind).
    await io.abandonOutput(10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a reader that opens while the process is being deleted still gets its output", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stdout = `${dir}/out`;
    const written = "late reader\n";
    const io = await exitedWithOutput(stdout, written);
    // The client asked for the delete before its reader opened (under load).
    const deleted = io.abandonOutput(60_000);
    assert.equal(readNow(stdout, written.length), written);
    // The reader came and read all: the delete ends without the grace.
    await deleted;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("output held for many absent readers holds no thread: the process's file operations go on", async () => {
  const dir = await Deno.makeTempDir();
  const ios: ProcessIO[] = [];
  try {
    // More than Deno's blocking threads (about 32).
    for (let i = 0; i < 40; i++) {
      ios.push(await exitedWithOutput(`${dir}/out${i}`, `from ${i}\n`));
    }
    // A file operation runs on a blocking thread: one must be free.
    await Deno.writeTextFile(`${dir}/file`, "still served");
    assert.equal(await Deno.readTextFile(`${dir}/file`), "still served");
    // Each reader that comes now gets its output, then the end.
    for (let i = 0; i < 40; i++) {
      const cat = await new Deno.Command("cat", {
        args: [`${dir}/out${i}`],
      }).output();
      assert.equal(new TextDecoder().decode(cat.stdout), `from ${i}\n`);
    }
  } finally {
    await Promise.all(ios.map((io) => io.abandonOutput(10)));
    await Deno.remove(dir, { recursive: true });
  }
});
