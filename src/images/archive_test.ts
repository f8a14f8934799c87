import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { pack as tarPack } from "tar-stream";
import {
  ALL_PLATFORMS,
  Code,
  DOCKER,
  OCI,
  onlyPlatform,
  onlyPlatformStrict,
  parsePlatform,
} from "../types/mod.ts";
import {
  buildImage,
  buildIndex,
  jsonBytes,
  MemoryContent,
  readAll,
  rejectsWith,
  sha256,
} from "./_testing.ts";
import { exportArchive, importArchive } from "./archive.ts";
import { tarEntries } from "./_tar_entries.ts";
import { readIndex, readManifest } from "./manifest.ts";
import { addRefPrefix } from "./archive_names.ts";
import { check } from "./walk.ts";

interface Entry {
  name: string;
  bytes?: Uint8Array | string;
  type?: "file" | "directory" | "symlink";
  linkname?: string;
}

/** A tar of `entries`, built with tar-stream. */
async function makeTar(entries: Entry[]): Promise<Uint8Array> {
  const pack = tarPack();
  const out = readAll(pack as AsyncIterable<Uint8Array>);
  for (const entry of entries) {
    const bytes = typeof entry.bytes === "string"
      ? new TextEncoder().encode(entry.bytes)
      : entry.bytes ?? new Uint8Array(0);
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        {
          name: entry.name,
          type: entry.type ?? "file",
          linkname: entry.linkname,
        },
        Buffer.from(bytes),
        (err) => err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  return await out;
}

/** The tar's entries: name → bytes (directories and links as empty). */
async function readTar(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const source = ReadableStream.from([bytes]);
  for await (const entry of tarEntries(source)) {
    files.set(
      entry.header.name,
      await readAll({ [Symbol.asyncIterator]: () => entry.body }),
    );
  }
  return files;
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const streamOf = (bytes: Uint8Array) => ReadableStream.from([bytes]);
const amd64 = onlyPlatform(parsePlatform("linux/amd64"));

/** A two-platform index, named, in a fresh store. */
function multiPlatform() {
  const content = new MemoryContent();
  const x86 = buildImage(content, {
    platform: { os: "linux", architecture: "amd64" },
  });
  const arm = buildImage(content, {
    platform: { os: "linux", architecture: "arm64", variant: "v8" },
  });
  const index = buildIndex(content, [
    { ...x86.manifest, platform: { os: "linux", architecture: "amd64" } },
    {
      ...arm.manifest,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
  ]);
  return { content, x86, arm, index };
}

async function exportBytes(
  options: Parameters<typeof exportArchive>[0],
): Promise<Uint8Array> {
  return await readAll(await exportArchive(options));
}

Deno.test("export writes an OCI layout with a Docker manifest.json, sorted", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a", "b"] });
  const tar = await exportBytes({
    content,
    images: [{
      target: image.manifest,
      names: ["docker.io/library/busybox:latest"],
    }],
    platform: amd64,
  });
  const files = await readTar(tar);
  const names = [...files.keys()];
  assert.deepEqual(names, [...names].sort());
  assert.deepEqual(names.filter((n) => !n.startsWith("blobs/sha256/")), [
    "blobs/",
    "index.json",
    "manifest.json",
    "oci-layout",
  ]);
  assert.ok(names.includes("blobs/sha256/"));
  assert.equal(text(files.get("oci-layout")), '{"imageLayoutVersion":"1.0.0"}');
  const index = JSON.parse(text(files.get("index.json")));
  assert.deepEqual(index, {
    schemaVersion: 2,
    manifests: [{
      mediaType: OCI.MANIFEST,
      digest: image.manifest.digest,
      size: image.manifest.size,
      annotations: {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
      },
    }],
  });
  const hex = (d: string) => `blobs/sha256/${d.slice(7)}`;
  assert.deepEqual(JSON.parse(text(files.get("manifest.json"))), [{
    Config: hex(image.config.digest),
    RepoTags: ["busybox:latest"],
    Layers: image.layers.map((l) => hex(l.digest)),
  }]);
  for (const desc of [image.manifest, image.config, ...image.layers]) {
    assert.equal(sha256(files.get(hex(desc.digest))!), desc.digest);
  }
});

Deno.test("OCI archive: import → export → import round trip", async () => {
  const { content, x86, arm, index } = multiPlatform();
  const first = await exportBytes({
    content,
    images: [{ target: index, names: ["example.com/app:1"] }],
    platform: amd64,
    allPlatforms: true,
  });

  const store = new MemoryContent();
  const imported = await importArchive(streamOf(first), {
    content: store,
    allPlatforms: true,
  });
  assert.deepEqual(imported.images, [{
    name: "example.com/app:1",
    target: {
      ...index,
      annotations: {
        "io.containerd.image.name": "example.com/app:1",
        "org.opencontainers.image.ref.name": "1",
      },
    },
  }]);
  // Every blob arrived, verified, with GC labels down the graph.
  for (
    const desc of [
      index,
      x86.manifest,
      x86.config,
      ...x86.layers,
      arm.manifest,
      arm.config,
      ...arm.layers,
    ]
  ) {
    assert.ok(store.blobs.has(desc.digest), desc.digest);
  }
  assert.deepEqual(store.labels(index.digest), {
    "containerd.io/gc.ref.content.m.0": x86.manifest.digest,
    "containerd.io/gc.ref.content.m.1": arm.manifest.digest,
  });
  assert.deepEqual(store.labels(arm.manifest.digest), {
    "containerd.io/gc.ref.content.config": arm.config.digest,
    "containerd.io/gc.ref.content.l.0": arm.layers[0].digest,
    "containerd.io/gc.ref.content.l.1": arm.layers[1].digest,
  });
  assert.deepEqual(store.labels(imported.index.digest), {
    "containerd.io/gc.ref.content.0": index.digest,
  });

  // Export from the imported store and import again: the same images.
  const second = await exportBytes({
    content: store,
    images: imported.images.map((i) => ({ target: i.target, names: [i.name] })),
    platform: amd64,
    allPlatforms: true,
  });
  assert.deepEqual(second, first);
  const again = new MemoryContent();
  const reimported = await importArchive(streamOf(second), {
    content: again,
    allPlatforms: true,
  });
  assert.deepEqual(reimported.images, imported.images);
  assert.deepEqual(
    [...again.blobs.keys()].sort(),
    [...store.blobs.keys()].sort(),
  );
  assert.ok((await check(again, index, { platform: amd64 })).complete);
});

Deno.test("export of one platform; import walks only what matches", async () => {
  const { content, x86, arm, index } = multiPlatform();
  const tar = await exportBytes({
    content,
    images: [{ target: index, names: ["example.com/app:1"] }],
    platform: onlyPlatformStrict(parsePlatform("linux/arm64")),
  });
  const files = await readTar(tar);
  const hex = (d: string) => `blobs/sha256/${d.slice(7)}`;
  assert.ok(files.has(hex(arm.manifest.digest)));
  assert.ok(!files.has(hex(x86.manifest.digest)));
  assert.ok(files.has(hex(index.digest)));
  // Docker's manifest.json names the platform's manifest.
  assert.equal(
    JSON.parse(text(files.get("manifest.json")))[0].Config,
    hex(arm.config.digest),
  );

  const store = new MemoryContent();
  const arm64 = onlyPlatform(parsePlatform("linux/arm64"));
  const result = await importArchive(streamOf(tar), {
    content: store,
    platform: arm64,
  });
  assert.equal(result.images[0].target.digest, index.digest);
  assert.ok((await check(store, index, { platform: arm64 })).complete);
  // The index is labelled for the children walked only.
  assert.deepEqual(store.labels(index.digest), {
    "containerd.io/gc.ref.content.m.0": arm.manifest.digest,
  });
  // All platforms: the amd64 manifest is missing from the archive.
  await rejectsWith(
    () =>
      importArchive(streamOf(tar), {
        content: new MemoryContent(),
        allPlatforms: true,
      }),
    Code.NotFound,
  );
  // A platform nothing matches: as in containerd, the image is named, but
  // it is not available for that platform.
  const s390x = onlyPlatform(parsePlatform("linux/s390x"));
  const other = new MemoryContent();
  const named = await importArchive(streamOf(tar), {
    content: other,
    platform: s390x,
  });
  assert.equal(named.images.length, 1);
  assert.equal(
    (await check(other, index, { platform: s390x })).available,
    false,
  );
  // A bare manifest of another platform in index.json is filtered out.
  const single = await exportBytes({
    content,
    images: [{
      target: {
        ...arm.manifest,
        platform: { os: "linux", architecture: "arm64" },
      },
    }],
  });
  await rejectsWith(
    () =>
      importArchive(streamOf(single), {
        content: new MemoryContent(),
        platform: s390x,
      }),
    Code.NotFound,
    /filtered out/,
  );
});

Deno.test("export refuses an index without the platform and non-images", async () => {
  const { content, index, x86 } = multiPlatform();
  await rejectsWith(
    () =>
      exportArchive({
        content,
        images: [{ target: index }],
        platform: onlyPlatform(parsePlatform("linux/s390x")),
      }),
    Code.NotFound,
    /no manifest found for platform/,
  );
  await rejectsWith(
    () => exportArchive({ content, images: [{ target: x86.config }] }),
    Code.InvalidArgument,
    /only manifests may be exported/,
  );
  content.blobs.delete(x86.layers[0].digest);
  const stream = await exportArchive({
    content,
    images: [{ target: x86.manifest }],
  });
  await assert.rejects(() => readAll(stream), /not found/);
});

Deno.test("export leaves out non-distributable layers when asked", async () => {
  const content = new MemoryContent();
  const layer = content.add(
    new TextEncoder().encode("foreign"),
    OCI.LAYER_NONDISTRIBUTABLE,
  );
  const config = content.addJSON({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }, OCI.CONFIG);
  const manifest = content.addJSON({
    schemaVersion: 2,
    mediaType: OCI.MANIFEST,
    config,
    layers: [layer],
  }, OCI.MANIFEST);
  const files = await readTar(
    await exportBytes({
      content,
      images: [{ target: manifest, names: ["a.io/b:c"] }],
      skipNonDistributable: true,
    }),
  );
  assert.ok(!files.has(`blobs/sha256/${layer.digest.slice(7)}`));
  // It imports: a non-distributable layer may be absent.
  const tar = await exportBytes({
    content,
    images: [{ target: manifest, names: ["a.io/b:c"] }],
    skipNonDistributable: true,
  });
  const result = await importArchive(streamOf(tar), {
    content: new MemoryContent(),
    platform: ALL_PLATFORMS,
  });
  assert.equal(result.images[0].name, "a.io/b:c");
});

/** A Docker `docker save` style archive of two layers (one a symlink). */
async function dockerArchive() {
  const layerA = new TextEncoder().encode("tar bytes A");
  const layerB = new TextEncoder().encode("tar bytes B");
  const config = jsonBytes({
    architecture: "arm64",
    variant: "v8",
    os: "linux",
    rootfs: {
      type: "layers",
      diff_ids: [sha256(layerA), sha256(layerB), sha256(layerA)],
    },
  });
  const configName = `${sha256(config).slice(7)}.json`;
  const tar = await makeTar([
    { name: "aaa", type: "directory" },
    { name: "aaa/VERSION", bytes: "1.0" },
    { name: "aaa/json", bytes: "{}" },
    { name: "aaa/layer.tar", bytes: layerA },
    { name: "bbb/layer.tar", bytes: layerB },
    { name: "ccc/layer.tar", type: "symlink", linkname: "../aaa/layer.tar" },
    { name: configName, bytes: config },
    {
      name: "manifest.json",
      bytes: JSON.stringify([{
        Config: configName,
        RepoTags: ["busybox:latest", "example.com/a/b:2"],
        Layers: ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"],
      }]),
    },
    {
      name: "repositories",
      bytes: JSON.stringify({ busybox: { latest: "ccc" } }),
    },
  ]);
  return { tar, layerA, layerB, config };
}

Deno.test("Docker archive: import → export → import round trip", async () => {
  const { tar, layerA, layerB, config } = await dockerArchive();
  const store = new MemoryContent();
  const imported = await importArchive(streamOf(tar), {
    content: store,
    platform: ALL_PLATFORMS,
  });
  assert.deepEqual(imported.images.map((i) => i.name), [
    "docker.io/library/busybox:latest",
    "example.com/a/b:2",
  ]);
  const target = imported.images[0].target;
  assert.equal(target.mediaType, DOCKER.MANIFEST);
  // Platform from the config, normalised without variant, as containerd.
  assert.deepEqual(target.platform, { os: "linux", architecture: "arm64" });
  assert.deepEqual(target.annotations, {
    "io.containerd.image.name": "docker.io/library/busybox:latest",
    "org.opencontainers.image.ref.name": "latest",
  });
  const manifest = await readManifest(store, target);
  assert.deepEqual(manifest.config, {
    mediaType: DOCKER.CONFIG,
    digest: sha256(config),
    size: config.byteLength,
  });
  assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), [
    [DOCKER.LAYER, sha256(layerA)],
    [DOCKER.LAYER, sha256(layerB)],
    [DOCKER.LAYER, sha256(layerA)],
  ]);
  // Legacy files are not stored.
  assert.ok(!store.blobs.has(sha256("1.0")));
  assert.ok(!store.blobs.has(sha256("{}")));
  const index = await readIndex(store, imported.index);
  assert.equal(index.manifests.length, 2);

  const exported = await exportBytes({
    content: store,
    images: imported.images.map((i) => ({ target: i.target, names: [i.name] })),
    platform: ALL_PLATFORMS,
  });
  const files = await readTar(exported);
  assert.deepEqual(JSON.parse(text(files.get("manifest.json")))[0].RepoTags, [
    "busybox:latest",
    "example.com/a/b:2",
  ]);
  const again = new MemoryContent();
  const reimported = await importArchive(streamOf(exported), {
    content: again,
    platform: ALL_PLATFORMS,
  });
  assert.deepEqual(reimported.images, imported.images);
  assert.ok((await check(again, target)).complete);
});

Deno.test("Docker archive: a stored compressed layer replaces the uncompressed one", async () => {
  const { gzipSync } = await import("node:zlib");
  const { tar, layerA } = await dockerArchive();
  const store = new MemoryContent();
  const gz = store.add(new Uint8Array(gzipSync(layerA)), OCI.LAYER_GZIP, {
    "containerd.io/uncompressed": sha256(layerA),
  });
  const result = await importArchive(streamOf(tar), {
    content: store,
    platform: ALL_PLATFORMS,
    findCompressed: (digest) => {
      for (const [d, blob] of store.blobs) {
        if (blob.labels["containerd.io/uncompressed"] === digest) {
          return Promise.resolve({ digest: d, size: blob.bytes.byteLength });
        }
      }
      return Promise.resolve(undefined);
    },
  });
  const manifest = await readManifest(store, result.images[0].target);
  assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), [
    [DOCKER.LAYER_GZIP, gz.digest],
    [DOCKER.LAYER, sha256(new TextEncoder().encode("tar bytes B"))],
    [DOCKER.LAYER_GZIP, gz.digest],
  ]);
});

Deno.test("Docker archive: gzip layers get the gzip type; repositories gives tags", async () => {
  const { gzipSync } = await import("node:zlib");
  const layer = new Uint8Array(gzipSync(new TextEncoder().encode("tar")));
  const config = jsonBytes({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [sha256("tar")] },
  });
  const tar = await makeTar([
    { name: "l1/layer.tar", bytes: layer },
    { name: "config.json", bytes: config },
    {
      name: "manifest.json",
      bytes: JSON.stringify([{
        Config: "config.json",
        RepoTags: null,
        Layers: ["l1/layer.tar"],
      }]),
    },
    {
      name: "repositories",
      bytes: JSON.stringify({ "example.com/x": { v1: "l1" } }),
    },
  ]);
  const store = new MemoryContent();
  const result = await importArchive(streamOf(tar), {
    content: store,
    platform: amd64,
  });
  assert.deepEqual(result.images.map((i) => i.name), ["example.com/x:v1"]);
  const manifest = await readManifest(store, result.images[0].target);
  assert.equal(manifest.layers[0].mediaType, DOCKER.LAYER_GZIP);
});

Deno.test("import names: translator, index name, digest refs", async () => {
  const content = new MemoryContent();
  const image = buildImage(content);
  const manifest = {
    ...image.manifest,
    annotations: { "org.opencontainers.image.ref.name": "v1" },
  };
  const indexJSON = jsonBytes({ schemaVersion: 2, manifests: [manifest] });
  const entries: Entry[] = [
    { name: "oci-layout", bytes: '{"imageLayoutVersion":"1.0.0"}' },
    { name: "index.json", bytes: indexJSON },
  ];
  for (const desc of [image.manifest, image.config, ...image.layers]) {
    entries.push({
      name: `blobs/sha256/${desc.digest.slice(7)}`,
      bytes: content.blobs.get(desc.digest)!.bytes,
    });
  }
  const tar = await makeTar(entries);
  const result = await importArchive(streamOf(tar), {
    content: new MemoryContent(),
    platform: amd64,
    refTranslator: addRefPrefix("import-2024-01-01"),
    indexName: "my-index",
    digestRef: (digest) => `example.com/x@${digest}`,
  });
  assert.deepEqual(result.images.map((i) => i.name), [
    "my-index",
    "import-2024-01-01:v1",
    `example.com/x@${image.manifest.digest}`,
  ]);
  assert.equal(result.index.digest, sha256(indexJSON));
  // Without a translator the bare ref name is the name.
  const plain = await importArchive(streamOf(tar), {
    content: new MemoryContent(),
    platform: amd64,
  });
  assert.deepEqual(plain.images.map((i) => i.name), ["v1"]);
});

Deno.test("import verifies blob digests and stores nothing wrong", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a"] });
  const entries: Entry[] = [
    { name: "oci-layout", bytes: '{"imageLayoutVersion":"1.0.0"}' },
    {
      name: "index.json",
      bytes: jsonBytes({ schemaVersion: 2, manifests: [image.manifest] }),
    },
    {
      name: `blobs/sha256/${image.manifest.digest.slice(7)}`,
      bytes: content.blobs.get(image.manifest.digest)!.bytes,
    },
    {
      name: `blobs/sha256/${image.config.digest.slice(7)}`,
      bytes: content.blobs.get(image.config.digest)!.bytes,
    },
    {
      name: `blobs/sha256/${image.layers[0].digest.slice(7)}`,
      bytes: "tampered",
    },
  ];
  const store = new MemoryContent();
  const tar = await makeTar(entries);
  await rejectsWith(
    () => importArchive(streamOf(tar), { content: store, platform: amd64 }),
    Code.FailedPrecondition,
    /failed to ingest "blobs\/sha256\/[a-f0-9]+": unexpected commit/,
  );
  assert.ok(!store.blobs.has(image.layers[0].digest));
  assert.ok(!store.blobs.has(sha256("tampered")));
});

Deno.test("bad archives are refused", async () => {
  const layout = {
    name: "oci-layout",
    bytes: '{"imageLayoutVersion":"1.0.0"}',
  };
  const cases: [Entry[], Code, RegExp][] = [
    [
      [{ name: "hello.txt", bytes: "hi" }],
      Code.InvalidArgument,
      /unrecognized image format/,
    ],
    [
      [{ name: "oci-layout", bytes: '{"imageLayoutVersion":"2.0.0"}' }, {
        name: "index.json",
        bytes: "{}",
      }],
      Code.InvalidArgument,
      /unsupported OCI version/,
    ],
    [[layout], Code.InvalidArgument, /missing index.json/],
    [
      [layout, { name: "index.json", bytes: "{" }],
      Code.InvalidArgument,
      /invalid JSON/,
    ],
    [
      [layout, {
        name: "index.json",
        bytes: JSON.stringify({
          schemaVersion: 2,
          manifests: [{ mediaType: OCI.MANIFEST, digest: "sha256:1", size: 1 }],
        }),
      }],
      Code.InvalidArgument,
      /digest/,
    ],
    [
      [layout, {
        name: "index.json",
        bytes: JSON.stringify({
          schemaVersion: 2,
          manifests: [{
            mediaType: OCI.MANIFEST,
            digest: sha256("gone"),
            size: 4,
          }],
        }),
      }],
      Code.NotFound,
      /not found/,
    ],
    [
      [{ name: "manifest.json", bytes: '{"not":"a list"}' }],
      Code.InvalidArgument,
      /manifest.json/,
    ],
    [
      [{
        name: "manifest.json",
        bytes: JSON.stringify([{ Config: "c.json", Layers: [] }]),
      }],
      Code.NotFound,
      /image config "c.json"/,
    ],
    [
      [
        {
          name: "c.json",
          bytes: JSON.stringify({ os: "linux", architecture: "amd64" }),
        },
        {
          name: "manifest.json",
          bytes: JSON.stringify([{
            Config: "c.json",
            Layers: ["nope/layer.tar"],
          }]),
        },
      ],
      Code.NotFound,
      /layer "nope\/layer.tar"/,
    ],
  ];
  for (const [entries, code, message] of cases) {
    const tar = await makeTar(entries);
    await rejectsWith(
      () =>
        importArchive(streamOf(tar), {
          content: new MemoryContent(),
          platform: ALL_PLATFORMS,
        }),
      code,
      message,
    );
  }
  await rejectsWith(
    () =>
      importArchive(streamOf(new TextEncoder().encode("x".repeat(2000))), {
        content: new MemoryContent(),
      }),
    Code.InvalidArgument,
    /invalid tar/,
  );
});

Deno.test("oversized JSON in an archive is refused before it is all read", async () => {
  const tar = await makeTar([
    { name: "oci-layout", bytes: '{"imageLayoutVersion":"1.0.0"}' },
    {
      name: "index.json",
      bytes: JSON.stringify({
        schemaVersion: 2,
        manifests: [],
        pad: "x".repeat(10_000),
      }),
    },
  ]);
  await rejectsWith(
    () =>
      importArchive(streamOf(tar), {
        content: new MemoryContent(),
        maxJSONBytes: 4096,
      }),
    Code.ResourceExhausted,
    /index.json.*exceeds the limit of 4096 bytes/,
  );
});

Deno.test("an oversized manifest inside an archive is refused", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a"] });
  const big = content.addJSON({
    schemaVersion: 2,
    mediaType: OCI.MANIFEST,
    config: image.config,
    layers: image.layers,
    annotations: { pad: "x".repeat(10_000) },
  }, OCI.MANIFEST);
  const tar = await exportBytes({
    content,
    images: [{ target: big, names: ["a.io/b:c"] }],
  });
  await rejectsWith(
    () =>
      importArchive(streamOf(tar), {
        content: new MemoryContent(),
        platform: amd64,
        maxJSONBytes: 4096,
      }),
    Code.ResourceExhausted,
  );
});

Deno.test("importing twice reuses stored blobs", async () => {
  const { content, index } = multiPlatform();
  const tar = await exportBytes({
    content,
    images: [{ target: index, names: ["a.io/b:c"] }],
    platform: amd64,
    allPlatforms: true,
  });
  const store = new MemoryContent();
  const first = await importArchive(streamOf(tar), {
    content: store,
    allPlatforms: true,
  });
  const count = store.blobs.size;
  const second = await importArchive(streamOf(tar), {
    content: store,
    allPlatforms: true,
  });
  assert.deepEqual(second, first);
  assert.equal(store.blobs.size, count);
});

Deno.test("cancelling an export stream stops it cleanly", async () => {
  const content = new MemoryContent();
  const image = buildImage(content, { layers: ["a", "b", "c"] });
  const stream = await exportArchive({
    content,
    images: [{ target: image.manifest }],
  });
  const reader = stream.getReader();
  const first = await reader.read();
  assert.ok(!first.done && first.value.byteLength > 0);
  await reader.cancel();
  await new Promise((r) => setTimeout(r, 10));
});

Deno.test("an import stops reading its source when it fails", async () => {
  let pulls = 0;
  let cancelled = false;
  const garbage = new Uint8Array(512).fill(0x41);
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(garbage);
    },
    cancel() {
      cancelled = true;
    },
  });
  await rejectsWith(
    () => importArchive(source, { content: new MemoryContent() }),
    Code.InvalidArgument,
    /invalid tar/,
  );
  assert.ok(cancelled);
  assert.ok(pulls < 100);
});

Deno.test("large blobs stream through export and import intact", async () => {
  const content = new MemoryContent();
  const big = crypto.getRandomValues(new Uint8Array(60_000));
  const bytes = new Uint8Array(3_000_000);
  for (let i = 0; i < bytes.length; i += big.length) {
    bytes.set(big.subarray(0, Math.min(big.length, bytes.length - i)), i);
  }
  const layer = content.add(bytes, OCI.LAYER);
  const config = content.addJSON({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }, OCI.CONFIG);
  const manifest = content.addJSON({
    schemaVersion: 2,
    mediaType: OCI.MANIFEST,
    config,
    layers: [layer],
  }, OCI.MANIFEST);
  const tar = await exportArchive({
    content,
    images: [{ target: manifest, names: ["a.io/big:1"] }],
  });
  const store = new MemoryContent();
  const result = await importArchive(tar, {
    content: store,
    platform: ALL_PLATFORMS,
  });
  assert.equal(result.images[0].name, "a.io/big:1");
  assert.equal(sha256(store.blobs.get(layer.digest)!.bytes), layer.digest);
});
