import assert from "node:assert/strict";

/**
 * The folders of `src/` the client library may load (README, "What the
 * library imports, and why"); `src/content/` only for its pure digest
 * rules. Anything else — a daemon store, the services, the runtime — must
 * stay out of the client's import graph.
 */
const ALLOWED = new Set([
  "src/client",
  "src/gen",
  "src/types",
  "src/images",
  "src/remotes",
  "src/oci",
  "src/api",
  "src/mount",
  "src/sys",
  "src/content/digest.ts",
]);

Deno.test("the client library loads no daemon component", async () => {
  const root = new URL("../../", import.meta.url).href;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("./mod.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  const ours = modules.map((m) => m.specifier)
    .filter((s) => s.startsWith(`${root}src/`))
    .map((s) => s.slice(root.length));
  assert.ok(ours.includes("src/remotes/client.ts"), "graph not read");
  const outside = ours.filter((path) => {
    const folder = path.split("/").slice(0, 2).join("/");
    return !ALLOWED.has(folder) && !ALLOWED.has(path);
  });
  assert.deepEqual(outside, []);
});
