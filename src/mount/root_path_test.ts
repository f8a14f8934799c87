import assert from "node:assert/strict";
import { resolveInRoot } from "./root_path.ts";

Deno.test("resolveInRoot keeps .. and symlinks inside the root", async () => {
  const root = await Deno.makeTempDir({ prefix: "berth-rootpath-" });
  try {
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    await Deno.symlink("/etc", `${root}/abs`);
    await Deno.symlink("../../..", `${root}/a/b/up`);
    await Deno.symlink("b", `${root}/a/rel`);
    assert.equal(resolveInRoot(root, ""), root);
    assert.equal(resolveInRoot(root, "/a/b"), `${root}/a/b`);
    assert.equal(resolveInRoot(root, "../../x"), `${root}/x`);
    assert.equal(resolveInRoot(root, "abs/passwd"), `${root}/etc/passwd`);
    assert.equal(resolveInRoot(root, "a/b/up/etc"), `${root}/etc`);
    assert.equal(resolveInRoot(root, "a/rel/c"), `${root}/a/b/c`);
    await Deno.symlink("loop", `${root}/loop`);
    assert.throws(() => resolveInRoot(root, "loop"), /too many symlinks/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
