import assert from "node:assert/strict";
import { readExitFile, writeExitFile } from "./exit_file.ts";

Deno.test("exit file: round trip, and null when absent", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readExitFile(dir), null);
    const exitedAt = new Date("2024-01-02T03:04:05.678Z");
    await writeExitFile(dir, { status: 137, exitedAt });
    assert.deepEqual(await readExitFile(dir), { status: 137, exitedAt });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
