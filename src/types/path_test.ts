import assert from "node:assert/strict";
import * as nodePath from "node:path";
import { basename, dirname, join, normalize, resolve } from "./path.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "a/b",
  "/a/b/c",
  "/a//b/./c/../d/",
  "../a/../../b",
  "/../a",
  "a/..",
  "./a/./b",
  "/run/berth/s/",
];

Deno.test("path functions agree with node:path", () => {
  for (const p of PATHS) {
    assert.equal(
      normalize(p),
      nodePath.normalize(p).replace(/(.)\/$/, "$1"),
      `normalize ${p}`,
    );
    assert.equal(dirname(p), nodePath.dirname(p), `dirname ${p}`);
    assert.equal(basename(p), nodePath.basename(p), `basename ${p}`);
    for (const q of PATHS) {
      assert.equal(
        join(p, q),
        nodePath.join(p, q).replace(/(.)\/$/, "$1"),
        `join ${p} ${q}`,
      );
      assert.equal(resolve(p, q), nodePath.resolve(p, q), `resolve ${p} ${q}`);
    }
  }
  assert.equal(join(), ".");
});
