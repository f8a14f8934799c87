import assert from "node:assert/strict";
import { BerthError, Code } from "./errors.ts";
import {
  familiarName,
  familiarString,
  formatReference,
  normalizeReference,
  parseReference,
  repositoryScope,
} from "./reference.ts";

const DIGEST = "sha256:" + "ab".repeat(32);

Deno.test("parseReference applies Docker Hub defaults", () => {
  assert.deepEqual(parseReference("busybox"), {
    domain: "docker.io",
    repository: "library/busybox",
    tag: "latest",
  });
  assert.equal(
    formatReference(parseReference("busybox")),
    "docker.io/library/busybox:latest",
  );
  assert.equal(
    formatReference(parseReference("foo/bar:1.0")),
    "docker.io/foo/bar:1.0",
  );
  assert.equal(
    formatReference(parseReference("index.docker.io/busybox")),
    "docker.io/library/busybox:latest",
  );
  assert.equal(
    formatReference(parseReference("docker.io/library/busybox:latest")),
    "docker.io/library/busybox:latest",
  );
  assert.deepEqual(parseReference("busybox", { defaultTag: false }), {
    domain: "docker.io",
    repository: "library/busybox",
  });
});

Deno.test("parseReference reads hosts, ports, tags and digests", () => {
  assert.deepEqual(parseReference("localhost:5000/a/b:v1"), {
    domain: "localhost:5000",
    repository: "a/b",
    tag: "v1",
  });
  assert.deepEqual(parseReference("localhost/a"), {
    domain: "localhost",
    repository: "a",
    tag: "latest",
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/x@${DIGEST}`), {
    domain: "127.0.0.1:5000",
    repository: "x",
    digest: DIGEST,
  });
  assert.deepEqual(parseReference(`ghcr.io/o/r:t@${DIGEST}`), {
    domain: "ghcr.io",
    repository: "o/r",
    tag: "t",
    digest: DIGEST,
  });
  assert.deepEqual(parseReference("quay.io/x/y:z"), {
    domain: "quay.io",
    repository: "x/y",
    tag: "z",
  });
  assert.equal(parseReference("[::1]:5000/x").domain, "[::1]:5000");
  assert.equal(
    parseReference("Registry.Example.COM/x").domain,
    "Registry.Example.COM",
  );
  // A port-like tag on a one-component name is a tag.
  assert.deepEqual(parseReference("busybox:5000").tag, "5000");
  assert.equal(
    parseReference("a__b/c.d/e-f---g:T_1.x-y").repository,
    "a__b/c.d/e-f---g",
  );
});

Deno.test("parseReference rejects invalid references clearly", () => {
  const bad: [string, RegExp][] = [
    ["", /at least one component/],
    ["Busybox", /must be lowercase/],
    ["docker.io/Library/busybox", /must be lowercase/],
    ["busybox:", /invalid tag format/],
    ["busybox:-x", /invalid tag format/],
    [`busybox:${"t".repeat(129)}`, /invalid tag format/],
    ["busybox@sha256:abc", /invalid digest format/],
    ["busybox@", /invalid digest format/],
    ["a//b", /path component ""/],
    ["a/b_", /path component "b_"/],
    ["a/.b", /path component/],
    ["a b", /path component "a b"/],
    ["a:", /invalid tag format/],
    ["-a", /path component "-a"/],
    ["a" + ":x".repeat(2), /path component "a:x"/],
    ["[ab]/x", /path component "\[ab\]"/],
    ["-host.io/x", /invalid domain/],
    ["https://docker.io/x", /no scheme/],
    ["ab".repeat(32), /64-byte hexadecimal/],
    ["1".repeat(64), /64-byte hexadecimal/],
    [`example.com/${"a".repeat(250)}`, /not be more than 255/],
    [":tag", /at least one component/],
  ];
  for (const [text, reason] of bad) {
    assert.throws(
      () => parseReference(text),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.InvalidArgument), String(err));
        assert.match(err.message, /^reference ".*" is not valid: /);
        assert.match(err.message, reason, text);
        return true;
      },
    );
  }
});

// The patterns cannot backtrack catastrophically (see reference.ts); a
// regression shows as this test never finishing, not as a slow timing.
Deno.test("parseReference refuses hostile input of every length for the right reason", () => {
  const refuses = (text: string, reason: RegExp) =>
    assert.throws(() => parseReference(text), reason, text.slice(0, 20));
  const component = /path component .* must match/;
  refuses("a".repeat(4000) + "!", component);
  refuses("a-".repeat(2000) + "!", component);
  refuses("a._".repeat(1300) + "a", component);
  refuses("a".repeat(4096), /must not be more than 255 characters/);
  refuses("a".repeat(4097), /must not be more than 255 characters/);
  refuses("a.".repeat(2000) + "-/x", /invalid domain/);
  refuses(`x@sha256:${"a".repeat(4000)}!`, /invalid digest format/);
});

Deno.test("normalizeReference completes references as containerd names images", () => {
  const digest = "sha256:" + "1".repeat(64);
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
    normalizeReference(`busybox:1@${digest}`),
    `docker.io/library/busybox@${digest}`,
  );
});

Deno.test("familiarName and familiarString shorten Docker Hub names", () => {
  assert.equal(familiarName("docker.io/library/busybox:latest"), "busybox");
  assert.equal(familiarName("docker.io/foo/bar"), "foo/bar");
  assert.equal(familiarName("docker.io/library/a/b"), "library/a/b");
  assert.equal(familiarName("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x");
  assert.equal(
    familiarString("docker.io/library/busybox:1.36"),
    "busybox:1.36",
  );
  assert.equal(familiarString(`busybox@${DIGEST}`), `busybox@${DIGEST}`);
});

Deno.test("familiarString of a parsed reference names images as Docker archives do", () => {
  const familiar = (text: string) => familiarString(parseReference(text));
  assert.equal(familiar("docker.io/library/busybox:latest"), "busybox:latest");
  assert.equal(familiar("docker.io/user/app"), "user/app:latest");
  assert.equal(familiar("ghcr.io/a/b:1"), "ghcr.io/a/b:1");
  assert.equal(familiar("docker.io/library/a/b:1"), "library/a/b:1");
});

Deno.test("repositoryScope names pull and push", () => {
  assert.equal(repositoryScope("a/b"), "repository:a/b:pull");
  assert.equal(repositoryScope("a/b", true), "repository:a/b:pull,push");
});
