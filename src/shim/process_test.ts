import assert from "node:assert/strict";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { spawnWithStdio } from "../sys/spawn.ts";
import { countingTimers } from "../sys/_testing.ts";
import { ShimProcess } from "./process.ts";
import { waitForExit } from "./reaper.ts";

Deno.test("a process that exited before its start was answered is dealt with in a later turn, after the answer", async () => {
  // What the test awaits comes by SIGCHLD: an open listener keeps
  // `deno test` from taking the loop for finished meanwhile.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept().catch(() => {});
  try {
    const told: string[] = [];
    const process = new ShimProcess({
      containerId: "c",
      execId: "e",
      bundle: "/",
      stdio: { stdin: "", stdout: "", stderr: "", terminal: false },
      onExit: () => {
        told.push("exit");
      },
    });
    const release = process.holdExit();
    const pid = await process.launch((stdio) =>
      Promise.resolve(spawnWithStdio("true", ["true"], { stdio }))
    );
    // The process has exited and its exit reached the process object
    // (its waiter was first in line).
    await waitForExit(pid);
    // The start is answered: what answers it runs in microtasks of this
    // turn, and none of them sees the exit dealt with yet.
    // No timer either: Deno fires a setTimeout(…, 0) 2 ms or more later.
    const timers = await countingTimers(async () => {
      release();
      for (let i = 0; i < 20; i++) await Promise.resolve();
      assert.deepEqual(told, []);
      assert.equal(process.exit, undefined);
      assert.equal((await process.exited).status, 0);
    });
    assert.deepEqual(told, ["exit"]);
    assert.equal(timers, 0);
  } finally {
    listener.close();
    await accepting;
  }
});

Deno.test("the exit is told once the client's reader has taken the output left in its FIFO", async () => {
  // A client (ctr) closes its FIFO readers as soon as it knows of the exit:
  // output still in the FIFO then is lost. This reader is slower than the
  // shim: a small read per turn of the event loop.
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept().catch(() => {});
  let reader: number | undefined;
  try {
    const stdout = `${dir}/stdout`;
    const made = await new Deno.Command("mkfifo", { args: [stdout] }).output();
    assert.ok(made.success);
    reader = openSync(stdout, constants.O_RDONLY | constants.O_NONBLOCK);
    let told = false;
    const process = new ShimProcess({
      containerId: "c",
      execId: "e",
      bundle: "/",
      stdio: { stdin: "", stdout, stderr: "", terminal: false },
      onExit: () => {
        told = true;
      },
    });
    // More than the FIFO holds, less than it and the process's pipe hold:
    // the process writes it all and exits whatever the reader does.
    const written = 3 << 19;
    await process.launch((stdio) =>
      Promise.resolve(
        spawnWithStdio("head", ["head", "-c", `${written}`, "/dev/zero"], {
          stdio,
        }),
      )
    );
    const buffer = new Uint8Array(4096);
    let read = 0;
    while (!told) {
      try {
        read += readSync(reader, buffer, 0, buffer.length, null);
      } catch (err) {
        if ((err as { code?: string }).code !== "EAGAIN") throw err;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(read, written);
    await process.exited;
  } finally {
    if (reader !== undefined) closeSync(reader);
    listener.close();
    await accepting;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the exit waits for no reader that closed with output left in its FIFO", async () => {
  // A client killed while its reader was behind: the exit is told once it
  // closed, not when the wait for a stalled reader runs out.
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept().catch(() => {});
  const setTimer = globalThis.setTimeout;
  try {
    const stdout = `${dir}/stdout`;
    const made = await new Deno.Command("mkfifo", { args: [stdout] }).output();
    assert.ok(made.success);
    const reader = openSync(stdout, constants.O_RDONLY | constants.O_NONBLOCK);
    // The stall's timer: armed once the shim holds the exit for the reader.
    const armed = Promise.withResolvers<void>();
    let stalled = false;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (ms !== 2_000) return setTimer(fn, ms);
      armed.resolve();
      return setTimer(() => {
        stalled = true;
        fn();
      }, ms);
    }) as typeof setTimeout;
    const process = new ShimProcess({
      containerId: "c",
      execId: "e",
      bundle: "/",
      stdio: { stdin: "", stdout, stderr: "", terminal: false },
    });
    await process.launch((stdio) =>
      Promise.resolve(
        spawnWithStdio("head", ["head", "-c", `${1 << 19}`, "/dev/zero"], {
          stdio,
        }),
      )
    );
    await armed.promise;
    closeSync(reader);
    assert.equal((await process.exited).status, 0);
    assert.equal(stalled, false);
  } finally {
    globalThis.setTimeout = setTimer;
    listener.close();
    await accepting;
    await Deno.remove(dir, { recursive: true });
  }
});
