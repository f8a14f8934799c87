import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import {
  addRefPrefix,
  familiarReference,
  filterRefPrefix,
  normalizeReference,
  ociReferenceName,
  parseReference,
} from "./reference.ts";

const DIGEST = "sha256:" + "1".repeat(64);

Deno.test("normalizeReference completes references as containerd names images", () => {
  assert.equal(
    normalizeReference("busybox"),
    "docker.io/library/busybox:latest",
  );
  assert.equal(
    normalizeReference("busybox:1.36"),
    "docker.io/library/busybox:1.36",
  );
  assert.equal(normalizeReference("user/app"), "docker.io/user/app:latest");
  assert.equal(
    normalizeReference("index.docker.io/library/alpine:3"),
    "docker.io/library/alpine:3",
  );
  assert.equal(
    normalizeReference("localhost:5000/a/b:c"),
    "localhost:5000/a/b:c",
  );
  assert.equal(normalizeReference("localhost/a"), "localhost/a:latest");
  assert.equal(
    normalizeReference(`busybox:1@${DIGEST}`),
    `docker.io/library/busybox@${DIGEST}`,
  );
});

Deno.test("familiarReference shortens docker.io names", () => {
  assert.equal(
    familiarReference("docker.io/library/busybox:latest"),
    "busybox:latest",
  );
  assert.equal(familiarReference("docker.io/user/app"), "user/app:latest");
  assert.equal(familiarReference("ghcr.io/a/b:1"), "ghcr.io/a/b:1");
  assert.equal(familiarReference("docker.io/library/a/b:1"), "library/a/b:1");
});

Deno.test("parseReference refuses malformed references", () => {
  for (
    const bad of [
      "Busybox",
      "a b",
      "a:",
      "-a",
      "a" + ":x".repeat(2),
      "1".repeat(64),
    ]
  ) {
    assert.throws(
      () => parseReference(bad),
      (err) => BerthError.is(err, Code.InvalidArgument),
      bad,
    );
  }
  assert.deepEqual(parseReference("quay.io/x/y:z"), {
    domain: "quay.io",
    path: "x/y",
    tag: "z",
  });
});

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
