import assert from "node:assert/strict";
import { readExitFile, writeExitFile } from "./exit_file.ts";
import { dateFromNanos, nanosOf } from "../types/time.ts";

Deno.test("exit file: round trip, and null when absent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readExitFile(dir), null);
    // Nanoseconds survive the round trip.
    const exitedAt = dateFromNanos(1704164645678901234n);
    writeExitFile(dir, { status: 137, exitedAt });
    const read = await readExitFile(dir);
    assert.equal(read?.status, 137);
    assert.equal(nanosOf(read!.exitedAt), 1704164645678901234n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
