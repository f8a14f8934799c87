import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { watchOpens } from "./open_watch.ts";

Deno.test("watchOpens tells of each open of the path until stopped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/fifo`;
    const made = await new Deno.Command("mkfifo", { args: [path] }).output();
    assert.ok(made.success);
    const opened = Promise.withResolvers<void>();
    let told = 0;
    const stop = watchOpens(path, () => {
      told++;
      opened.resolve();
    });
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    await opened.promise;
    stop();
    const before = told;
    // No longer watched (the test would not end with the watch left).
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    assert.equal(told, before);
    assert.throws(
      () => watchOpens(`${dir}/missing`, () => {}),
      /ENOENT|No such file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
