import assert from "node:assert/strict";
import { spawnWithStdio } from "../sys/spawn.ts";
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
    const setTimer = globalThis.setTimeout;
    let timers = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timers++;
      return setTimer(...args);
    }) as typeof setTimeout;
    try {
      release();
      for (let i = 0; i < 20; i++) await Promise.resolve();
      assert.deepEqual(told, []);
      assert.equal(process.exit, undefined);
      assert.equal((await process.exited).status, 0);
    } finally {
      globalThis.setTimeout = setTimer;
    }
    assert.deepEqual(told, ["exit"]);
    assert.equal(timers, 0);
  } finally {
    listener.close();
    await accepting;
  }
});
