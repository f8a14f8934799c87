import assert from "node:assert/strict";
import {
  Code,
  DOCKER,
  OCI,
  onlyPlatform,
  parsePlatform,
} from "../types/mod.ts";
import {
  buildImage,
  buildIndex,
  MemoryContent,
  rejectsWith,
  sha256,
} from "./_testing.ts";
import { check, childLabels, labelChildren, walk } from "./walk.ts";

const d = (mediaType: string, text: string) => ({
  mediaType,
  digest: sha256(text),
  size: 1,
});

Deno.test("childLabels numbers children per kind as containerd does", () => {
  assert.deepEqual(
    childLabels([
      d(OCI.CONFIG, "c"),
      d(OCI.LAYER_GZIP, "l0"),
      d(DOCKER.LAYER_GZIP, "l1"),
    ]),
    {
      "containerd.io/gc.ref.content.config": sha256("c"),
      "containerd.io/gc.ref.content.l.0": sha256("l0"),
      "containerd.io/gc.ref.content.l.1": sha256("l1"),
    },
  );
  assert.deepEqual(
    childLabels([
      d(OCI.MANIFEST, "m0"),
      d(DOCKER.MANIFEST, "m1"),
      d(OCI.INDEX, "i"),
      d("application/x-other", "o"),
    ]),
    {
      "containerd.io/gc.ref.content.m.0": sha256("m0"),
      "containerd.io/gc.ref.content.m.1": sha256("m1"),
      "containerd.io/gc.ref.content.0": sha256("i"),
      "containerd.io/gc.ref.content.1": sha256("o"),
    },
  );
  // A second config gets a number.
  assert.deepEqual(
    Object.keys(childLabels([d(OCI.CONFIG, "a"), d(DOCKER.CONFIG, "b")])),
    [
      "containerd.io/gc.ref.content.config",
      "containerd.io/gc.ref.content.config1",
    ],
  );
  assert.deepEqual(childLabels([]), {});
});

Deno.test("labelChildren sets the labels on the parent", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a"] });
  await labelChildren(content, image.manifest, [image.config, ...image.layers]);
  assert.deepEqual(content.labels(image.manifest.digest), {
    "containerd.io/gc.ref.content.config": image.config.digest,
    "containerd.io/gc.ref.content.l.0": image.layers[0].digest,
  });
});

Deno.test("walk visits index, platform manifests, configs and layers once", async () => {
  const content = new MemoryContent();
  const amd64 = buildImage(content, {
    platform: { os: "linux", architecture: "amd64" },
    layers: ["shared", "x"],
  });
  const arm64 = buildImage(content, {
    platform: { os: "linux", architecture: "arm64" },
    layers: ["y"],
  });
  const index = buildIndex(content, [
    { ...amd64.manifest, platform: { os: "linux", architecture: "amd64" } },
    { ...arm64.manifest, platform: { os: "linux", architecture: "arm64" } },
  ]);
  const all = [];
  for await (const step of walk(content, [index])) {
    all.push(step.descriptor.digest);
  }
  assert.equal(all.length, 1 + 2 + 2 + 3);
  const filtered = [];
  for await (
    const step of walk(content, [index], {
      platform: onlyPlatform(parsePlatform("linux/arm64")),
    })
  ) {
    filtered.push(step);
  }
  assert.deepEqual(filtered.map((s) => s.descriptor.digest), [
    index.digest,
    arm64.manifest.digest,
    arm64.config.digest,
    arm64.layers[0].digest,
  ]);
  // The index's children are all listed, the selection is filtered.
  assert.equal(filtered[0].children.length, 2);
  assert.equal(filtered[0].selected.length, 1);
  assert.deepEqual(filtered.map((s) => s.depth), [0, 1, 2, 2]);
});

Deno.test("walk fails on a missing manifest", async () => {
  const content = new MemoryContent();
  const image = buildImage(content);
  const index = buildIndex(content, [image.manifest]);
  content.blobs.delete(image.manifest.digest);
  await rejectsWith(async () => {
    for await (const _ of walk(content, [index])) { /* walk */ }
  }, Code.NotFound);
});

Deno.test("check reports complete and incomplete images", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a", "b"] });
  const complete = await check(content, image.manifest);
  assert.ok(complete.available && complete.complete);
  assert.equal(complete.required.length, 3);
  assert.equal(complete.missing.length, 0);

  content.blobs.delete(image.layers[1].digest);
  const partial = await check(content, image.manifest);
  assert.ok(partial.available && !partial.complete);
  assert.deepEqual(partial.missing.map((m) => m.digest), [
    image.layers[1].digest,
  ]);
  assert.equal(partial.present.length, 2);

  const index = buildIndex(content, [{
    ...image.manifest,
    platform: { os: "linux", architecture: "amd64" },
  }]);
  const other = await check(content, index, {
    platform: onlyPlatform(parsePlatform("linux/s390x")),
  });
  assert.deepEqual(other, {
    available: false,
    complete: false,
    required: [index],
    present: [],
    missing: [index],
  });
  content.blobs.delete(image.manifest.digest);
  assert.equal((await check(content, image.manifest)).available, false);
});
