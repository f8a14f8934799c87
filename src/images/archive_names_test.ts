import assert from "node:assert/strict";
import {
  addRefPrefix,
  filterRefPrefix,
  ociReferenceName,
} from "./archive_names.ts";

const DIGEST = "sha256:" + "1".repeat(64);

Deno.test("ociReferenceName is the object after the repository", () => {
  assert.equal(ociReferenceName("docker.io/library/busybox:latest"), "latest");
  assert.equal(ociReferenceName("localhost:5000/a:b"), "b");
  assert.equal(ociReferenceName(`docker.io/a/b@${DIGEST}`), `@${DIGEST}`);
  assert.equal(ociReferenceName("docker.io/a/b"), "");
});

Deno.test("ref translators behave as ctr's --base-name", () => {
  const add = addRefPrefix("import-2024");
  assert.equal(add("latest"), "import-2024:latest");
  assert.equal(add("docker.io/a/b:c"), "docker.io/a/b:c");
  const filter = filterRefPrefix("docker.io/a/b");
  assert.equal(filter("v1"), "docker.io/a/b:v1");
  assert.equal(filter("docker.io/a/b:v2"), "docker.io/a/b:v2");
  assert.equal(filter("docker.io/a/bc:v2"), "");
});
