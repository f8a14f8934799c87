/**
 * Regenerates `src/gen/` from `proto/` with Debian's `protoc` and `protoc-gen-es`.
 *
 * Usage: `deno task proto` (writes `src/gen/`) or
 * `deno run -A scripts/gen_proto.ts --out DIR` (writes elsewhere, for the
 * byte-for-byte check in `scripts/gen_proto_test.ts`).
 *
 * @module
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The code generator, run through an `npm:` specifier: a build tool, so it
 * stays out of deno.json's import map, which is what the program loads.
 */
export const PROTOC_GEN_ES = "npm:@bufbuild/protoc-gen-es@2.17.0/protoc-gen-es";

/** Lists every `.proto` file under `dir`, sorted, relative to `dir`. */
async function protoFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(current: string) {
    for await (const entry of Deno.readDir(current)) {
      const path = join(current, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".proto")) found.push(relative(dir, path));
    }
  }
  await walk(dir);
  return found.sort();
}

/** Runs protoc with protoc-gen-es over all of `proto/`, writing into `out`. */
export async function generate(out: string): Promise<void> {
  const protoDir = join(root, "proto");
  const files = await protoFiles(protoDir);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  // protoc runs a plugin as an executable: a script that hands over to deno.
  const plugin = join(out, ".protoc-gen-es");
  await Deno.writeTextFile(
    plugin,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A ${PROTOC_GEN_ES} "$@"\n`,
    { mode: 0o755 },
  );
  const result = await new Deno.Command("protoc", {
    args: [
      `--plugin=protoc-gen-es=${plugin}`,
      `--es_out=${out}`,
      "--es_opt=target=ts,import_extension=ts",
      `-I${protoDir}`,
      ...files,
    ],
    cwd: root,
  }).output();
  await Deno.remove(plugin);
  if (!result.success) {
    throw new Error(
      `protoc failed: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
}

if (import.meta.main) {
  const outFlag = Deno.args.indexOf("--out");
  const out = outFlag >= 0 ? Deno.args[outFlag + 1] : join(root, "src/gen");
  await generate(out);
}
