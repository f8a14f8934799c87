import assert from "node:assert/strict";
import {
  BerthError,
  Code,
  DOCKER,
  OCI,
  onlyPlatform,
  parsePlatform,
} from "../types/mod.ts";
import {
  buildImage,
  buildIndex,
  jsonBytes,
  MemoryContent,
  rejectsWith,
  sha256,
} from "./_testing.ts";
import {
  children,
  descriptorFromJSON,
  descriptorToJSON,
  manifestFor,
  parseConfig,
  parseIndex,
  parseManifest,
  readManifest,
} from "./manifest.ts";

const DIGEST = sha256("x");

function invalid(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err) => {
    assert.ok(BerthError.is(err, Code.InvalidArgument), String(err));
    if (message) assert.match(err.message, message);
    return true;
  });
}

Deno.test("descriptors are validated", () => {
  const good = { mediaType: OCI.LAYER, digest: DIGEST, size: 3 };
  assert.deepEqual(descriptorFromJSON(good, "t"), good);
  invalid(
    () => descriptorFromJSON({ ...good, digest: "sha256:abc" }, "t"),
    /digest/,
  );
  invalid(
    () => descriptorFromJSON({ ...good, digest: "md5:" + "a".repeat(32) }, "t"),
    /unsupported/,
  );
  invalid(() =>
    descriptorFromJSON({ ...good, digest: DIGEST.toUpperCase() }, "t")
  );
  invalid(() => descriptorFromJSON({ ...good, size: -1 }, "t"), /non-negative/);
  invalid(() => descriptorFromJSON({ ...good, size: 1.5 }, "t"));
  invalid(() => descriptorFromJSON({ ...good, size: "3" }, "t"));
  invalid(() => descriptorFromJSON({ ...good, mediaType: "" }, "t"));
  invalid(() => descriptorFromJSON({ ...good, annotations: { a: 1 } }, "t"));
  invalid(() => descriptorFromJSON("x", "t"));
  const withPlatform = {
    ...good,
    annotations: { k: "v" },
    platform: { architecture: "arm64", os: "linux", variant: "v8" },
  };
  assert.deepEqual(
    descriptorToJSON(descriptorFromJSON(withPlatform, "t")),
    withPlatform,
  );
});

Deno.test("parseManifest checks the shape", () => {
  const config = { mediaType: OCI.CONFIG, digest: DIGEST, size: 2 };
  const manifest = parseManifest(
    jsonBytes({ schemaVersion: 2, config, layers: [] }),
  );
  assert.deepEqual(manifest.config, config);
  invalid(
    () => parseManifest(jsonBytes({ schemaVersion: 3, config })),
    /schemaVersion/,
  );
  invalid(() => parseManifest(jsonBytes({ schemaVersion: 2 })), /config/);
  invalid(() =>
    parseManifest(jsonBytes({ schemaVersion: 2, config, layers: {} }))
  );
  invalid(() => parseManifest(new TextEncoder().encode("{")), /invalid JSON/);
  invalid(() => parseManifest(jsonBytes([1])), /object/);
  invalid(
    () =>
      parseManifest(jsonBytes({ schemaVersion: 2, manifests: [], config }), {
        mediaType: OCI.MANIFEST,
      }),
    /expected manifest but found index/,
  );
  invalid(
    () =>
      parseIndex(jsonBytes({ schemaVersion: 2, config, manifests: [] }), {
        mediaType: OCI.INDEX,
      }),
    /expected index but found manifest/,
  );
});

Deno.test("schema 1 documents are refused", () => {
  const schema1 = jsonBytes({
    schemaVersion: 1,
    name: "x",
    fsLayers: [{ blobSum: DIGEST }],
  });
  assert.throws(
    () => parseManifest(schema1, { mediaType: OCI.MANIFEST }),
    (err) => BerthError.is(err, Code.Unimplemented),
  );
});

Deno.test("readManifest refuses schema 1 by media type and oversized blobs", async () => {
  const content = new MemoryContent();
  const desc = content.add(
    jsonBytes({ schemaVersion: 1 }),
    DOCKER.MANIFEST_SCHEMA1_SIGNED,
  );
  await rejectsWith(
    () => readManifest(content, desc),
    Code.Unimplemented,
    /schema 1/,
  );
  const big = content.add(
    jsonBytes({
      schemaVersion: 2,
      config: { mediaType: OCI.CONFIG, digest: DIGEST, size: 1 },
      layers: [],
      annotations: { pad: "x".repeat(5000) },
    }),
    OCI.MANIFEST,
  );
  await rejectsWith(
    () => readManifest(content, big, { maxBytes: 4096 }),
    Code.ResourceExhausted,
  );
  assert.equal((await readManifest(content, big)).layers.length, 0);
});

Deno.test("parseConfig reads diff_ids and the platform", () => {
  const config = parseConfig(jsonBytes({
    architecture: "arm64",
    os: "linux",
    variant: "v8",
    rootfs: { type: "layers", diff_ids: [DIGEST] },
  }));
  assert.deepEqual(config.diffIDs, [DIGEST]);
  assert.equal(config.variant, "v8");
  invalid(
    () => parseConfig(jsonBytes({ rootfs: { diff_ids: ["nope"] } })),
    /diff_ids/,
  );
  invalid(() => parseConfig(jsonBytes({ os: 1 })));
});

Deno.test("children lists index manifests and manifest config + layers", async () => {
  const content = new MemoryContent();
  const image = buildImage(content);
  assert.deepEqual(
    (await children(content, image.manifest)).map((d) => d.digest),
    [image.config.digest, ...image.layers.map((l) => l.digest)],
  );
  const index = buildIndex(content, [image.manifest]);
  assert.deepEqual((await children(content, index)).map((d) => d.digest), [
    image.manifest.digest,
  ]);
  assert.deepEqual(await children(content, image.layers[0]), []);
  assert.deepEqual(
    await children(content, {
      mediaType: "application/x-unknown",
      digest: DIGEST,
      size: 1,
    }),
    [],
  );
});

Deno.test("manifestFor picks the best platform of an index", async () => {
  const content = new MemoryContent();
  const amd64 = buildImage(content, {
    platform: { os: "linux", architecture: "amd64" },
  });
  const arm64 = buildImage(content, {
    platform: { os: "linux", architecture: "arm64", variant: "v8" },
  });
  const armv7 = buildImage(content, {
    platform: { os: "linux", architecture: "arm", variant: "v7" },
  });
  const index = buildIndex(content, [
    { ...amd64.manifest, platform: { os: "linux", architecture: "amd64" } },
    {
      ...armv7.manifest,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
    {
      ...arm64.manifest,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
  ]);
  const pick = async (spec: string) =>
    (await manifestFor(content, index, onlyPlatform(parsePlatform(spec))))
      .descriptor.digest;
  assert.equal(await pick("linux/amd64"), amd64.manifest.digest);
  assert.equal(await pick("linux/arm64"), arm64.manifest.digest);
  assert.equal(await pick("linux/arm/v8"), armv7.manifest.digest);
  assert.equal(await pick("linux/arm/v7"), armv7.manifest.digest);
  // No matcher: the first.
  assert.equal(
    (await manifestFor(content, index)).descriptor.digest,
    amd64.manifest.digest,
  );
  // A manifest target is itself, whatever the platform.
  assert.equal(
    (await manifestFor(
      content,
      amd64.manifest,
      onlyPlatform(parsePlatform("linux/s390x")),
    )).descriptor.digest,
    amd64.manifest.digest,
  );
  const err = await rejectsWith(
    () =>
      manifestFor(content, index, onlyPlatform(parsePlatform("linux/s390x"))),
    Code.NotFound,
  );
  assert.equal(
    err.message,
    `no match for platform in manifest ${index.digest}: not found`,
  );
});

Deno.test("manifestFor judges entries without a platform by their config", async () => {
  const content = new MemoryContent();
  const arm64 = buildImage(content, {
    platform: { os: "linux", architecture: "arm64" },
  });
  const amd64 = buildImage(content, {
    platform: { os: "linux", architecture: "amd64" },
  });
  const index = buildIndex(content, [arm64.manifest, amd64.manifest]);
  const found = await manifestFor(
    content,
    index,
    onlyPlatform(parsePlatform("linux/amd64")),
  );
  assert.equal(found.descriptor.digest, amd64.manifest.digest);
});

Deno.test("manifestFor follows nested indexes and refuses unknown types", async () => {
  const content = new MemoryContent();
  const image = buildImage(content);
  const inner = buildIndex(content, [{
    ...image.manifest,
    platform: { os: "linux", architecture: "amd64" },
  }]);
  const outer = buildIndex(content, [inner], DOCKER.MANIFEST_LIST);
  const found = await manifestFor(
    content,
    outer,
    onlyPlatform(parsePlatform("linux/amd64")),
  );
  assert.equal(found.descriptor.digest, image.manifest.digest);
  await rejectsWith(
    () =>
      manifestFor(content, {
        mediaType: "application/x-unknown",
        digest: image.manifest.digest,
        size: 1,
      }),
    Code.NotFound,
    /unexpected media type/,
  );
  await rejectsWith(
    () =>
      manifestFor(content, {
        mediaType: OCI.MANIFEST,
        digest: DIGEST,
        size: 1,
      }),
    Code.NotFound,
  );
});
