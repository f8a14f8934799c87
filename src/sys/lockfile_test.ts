import assert from "node:assert/strict";
import { acquireLock, LockHeldError } from "./lockfile.ts";

Deno.test("acquireLock excludes a second holder until released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/lock`;
    const first = acquireLock(path);
    // flock locks belong to the open file description: a second open in
    // this process conflicts just as another process would.
    assert.throws(() => acquireLock(path), LockHeldError);
    first.release();
    acquireLock(path).release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
