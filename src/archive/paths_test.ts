import assert from "node:assert/strict";
import {
  cleanComponents,
  joinRoot,
  ResolveError,
  resolveInRoot,
} from "./paths.ts";

Deno.test("cleanComponents contains '..' and absolute names", () => {
  assert.deepEqual(cleanComponents("../../etc/passwd"), ["etc", "passwd"]);
  assert.deepEqual(cleanComponents("/a//b/./c/"), ["a", "b", "c"]);
  assert.deepEqual(cleanComponents("a/../../b"), ["b"]);
  assert.deepEqual(cleanComponents("./"), []);
  assert.deepEqual(cleanComponents(".."), []);
  assert.deepEqual(cleanComponents(""), []);
});

Deno.test("joinRoot joins components to a root, including '/'", () => {
  assert.equal(joinRoot("/r", []), "/r");
  assert.equal(joinRoot("/r", ["a", "b"]), "/r/a/b");
  assert.equal(joinRoot("/", ["a"]), "/a");
});

Deno.test("resolveInRoot resolves symlinks inside the root, like a chroot", async () => {
  const root = await Deno.makeTempDir();
  try {
    Deno.mkdirSync(`${root}/usr/lib`, { recursive: true });
    Deno.symlinkSync("usr/lib", `${root}/lib`);
    Deno.symlinkSync("/usr", `${root}/abs`);
    Deno.symlinkSync("../../../../..", `${root}/usr/up`);
    Deno.symlinkSync("/", `${root}/slash`);
    const r = (name: string, followSymlinks = true) =>
      resolveInRoot(root, name.split("/"), { followSymlinks });
    assert.deepEqual(r("lib"), {
      components: ["usr", "lib"],
      path: `${root}/usr/lib`,
      missingFrom: 2,
    });
    assert.deepEqual(r("abs/lib/x/y").components, ["usr", "lib", "x", "y"]);
    assert.equal(r("abs/lib/x/y").missingFrom, 2);
    assert.deepEqual(r("usr/up/usr").components, ["usr"]);
    assert.deepEqual(r("slash/slash/lib").components, ["usr", "lib"]);
    assert.deepEqual(r("missing/../lib").components, ["usr", "lib"]);
    assert.equal(r("missing/../lib").missingFrom, 2);
    assert.throws(
      () => r("lib", false),
      (e) =>
        e instanceof ResolveError && e.reason === "symlink" && e.at === "lib",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolveInRoot refuses non-directories and symlink loops", async () => {
  const root = await Deno.makeTempDir();
  try {
    Deno.writeTextFileSync(`${root}/file`, "");
    Deno.symlinkSync("b", `${root}/a`);
    Deno.symlinkSync("a", `${root}/b`);
    const known = new Set<string>();
    assert.throws(
      () =>
        resolveInRoot(root, ["file", "x"], {
          followSymlinks: true,
          knownDirs: known,
        }),
      (e) => e instanceof ResolveError && e.reason === "notdir",
    );
    assert.throws(
      () => resolveInRoot(root, ["a"], { followSymlinks: true }),
      (e) => e instanceof ResolveError && e.reason === "loop",
    );
    Deno.mkdirSync(`${root}/d`);
    resolveInRoot(root, ["d"], { followSymlinks: true, knownDirs: known });
    assert.ok(known.has(`${root}/d`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
