/**
 * Checks that `src/gen/` is exactly what `scripts/gen_proto.ts` produces from
 * `proto/`, so nobody edits generated code by hand or forgets to regenerate.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "./gen_proto.ts";

const genDir = fileURLToPath(new URL("../src/gen", import.meta.url));

/** Lists every file under `dir`, sorted, relative to `dir`. */
async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(current: string) {
    for await (const entry of Deno.readDir(current)) {
      const path = join(current, entry.name);
      if (entry.isDirectory) await walk(path);
      else found.push(relative(dir, path));
    }
  }
  await walk(dir);
  return found.sort();
}

Deno.test("src/gen is byte-identical to a fresh protoc-gen-es run", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "berth-gen-" });
  try {
    const out = join(tmp, "gen");
    await generate(out);
    const fresh = await listFiles(out);
    const committed = await listFiles(genDir);
    assert.ok(fresh.length > 0, "generator produced no files");
    assert.deepEqual(
      committed,
      fresh,
      "file sets differ; run `deno task proto`",
    );
    for (const file of fresh) {
      const want = await Deno.readFile(join(out, file));
      const got = await Deno.readFile(join(genDir, file));
      assert.ok(
        want.length === got.length && want.every((b, i) => b === got[i]),
        `src/gen/${file} is stale or hand-edited; run \`deno task proto\``,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
