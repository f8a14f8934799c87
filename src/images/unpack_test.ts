import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Code, OCI, onlyPlatform, parsePlatform } from "../types/mod.ts";
import {
  buildImage,
  buildIndex,
  FakeApplier,
  FakeSnapshots,
  MemoryContent,
  rejectsWith,
  sha256,
} from "./_testing.ts";
import { bytesStream } from "./content.ts";
import { chainIDs } from "./identity.ts";
import {
  extractionKey,
  snapshotLabels,
  unpack,
  unpackLayers,
} from "./unpack.ts";

function setup() {
  const content = new MemoryContent();
  const snapshots = new FakeSnapshots();
  const applier = new FakeApplier(content);
  return { content, snapshots, applier };
}

Deno.test("unpack prepares, applies and commits each layer as its chain ID", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b", "c"] });
  const chain = chainIDs(image.diffIDs);
  const result = await unpack({
    content,
    snapshots,
    applier,
    snapshotter: "overlayfs",
    image: image.manifest,
  });
  assert.equal(result.chainID, chain[2]);
  assert.deepEqual(result.layers.map((l) => l.applied), [true, true, true]);
  assert.equal(result.config.digest, image.config.digest);

  // stat, prepare extract-… on the parent, commit — per layer, in order.
  const calls = snapshots.calls.map((c) =>
    c.replace(/extract-\d+-[A-Za-z0-9_-]{4} /, "extract-X ")
  );
  assert.deepEqual(calls, [
    `stat ${chain[0]}`,
    `prepare extract-X ${chain[0]} `,
    `commit extract-X ${chain[0]} ${chain[0]}`,
    `stat ${chain[1]}`,
    `prepare extract-X ${chain[1]} ${chain[0]}`,
    `commit extract-X ${chain[1]} ${chain[1]}`,
    `stat ${chain[2]}`,
    `prepare extract-X ${chain[2]} ${chain[1]}`,
    `commit extract-X ${chain[2]} ${chain[2]}`,
  ]);
  for (const [i, id] of chain.entries()) {
    const snapshot = snapshots.snapshots.get(id)!;
    assert.equal(snapshot.kind, "committed");
    assert.equal(snapshot.parent, i === 0 ? "" : chain[i - 1]);
    assert.equal(snapshot.labels["containerd.io/snapshot.ref"], id);
  }
  assert.equal(snapshots.snapshots.size, 3);

  // Labels: each layer its diffID, the config the top snapshot.
  for (const [i, layer] of image.layers.entries()) {
    assert.equal(
      content.labels(layer.digest)["containerd.io/uncompressed"],
      image.diffIDs[i],
    );
  }
  assert.deepEqual(content.labels(image.config.digest), {
    "containerd.io/gc.ref.snapshot.overlayfs": chain[2],
  });
});

Deno.test("unpack skips layers whose snapshot exists", async () => {
  const { content, snapshots, applier } = setup();
  const base = buildImage(content, { layers: ["a", "b"] });
  await unpack({
    content,
    snapshots,
    applier,
    snapshotter: "s",
    image: base.manifest,
  });
  const applied = applier.applied.length;
  // Same two base layers plus one more: only the third is applied.
  const image = buildImage(content, { layers: ["a", "b", "c"] });
  snapshots.calls.length = 0;
  const result = await unpack({
    content,
    snapshots,
    applier,
    snapshotter: "s",
    image: image.manifest,
  });
  assert.deepEqual(result.layers.map((l) => l.applied), [false, false, true]);
  assert.equal(applier.applied.length, applied + 1);
  assert.equal(
    snapshots.calls.filter((c) => c.startsWith("prepare")).length,
    1,
  );
  // Unpacking again changes nothing.
  snapshots.calls.length = 0;
  const again = await unpack({
    content,
    snapshots,
    applier,
    snapshotter: "s",
    image: image.manifest,
  });
  assert.deepEqual(again.layers.map((l) => l.applied), [false, false, false]);
  assert.ok(snapshots.calls.every((c) => c.startsWith("stat")));
  assert.equal(again.chainID, result.chainID);
});

Deno.test("unpack picks the platform's manifest from an index", async () => {
  const { content, snapshots, applier } = setup();
  const amd64 = buildImage(content, {
    platform: { os: "linux", architecture: "amd64" },
  });
  const arm64 = buildImage(content, {
    platform: { os: "linux", architecture: "arm64" },
  });
  const index = buildIndex(content, [
    { ...amd64.manifest, platform: { os: "linux", architecture: "amd64" } },
    { ...arm64.manifest, platform: { os: "linux", architecture: "arm64" } },
  ]);
  const result = await unpack({
    content,
    snapshots,
    applier,
    snapshotter: "s",
    image: index,
    platform: onlyPlatform(parsePlatform("linux/arm64")),
  });
  assert.equal(result.manifest.digest, arm64.manifest.digest);
  assert.equal(result.chainID, chainIDs(arm64.diffIDs)[1]);
  await rejectsWith(
    () =>
      unpack({
        content,
        snapshots,
        applier,
        snapshotter: "s",
        image: index,
        platform: onlyPlatform(parsePlatform("linux/s390x")),
      }),
    Code.NotFound,
    /no match for platform in manifest/,
  );
});

Deno.test("a diffID mismatch removes the extraction snapshot and fails", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b"] });
  applier.corrupting.add(image.layers[1].digest);
  await rejectsWith(
    () =>
      unpack({
        content,
        snapshots,
        applier,
        snapshotter: "s",
        image: image.manifest,
      }),
    Code.FailedPrecondition,
    /wrong diff id/,
  );
  // The first layer stays committed; nothing active is left; no labels.
  assert.deepEqual([...snapshots.snapshots.keys()], [
    chainIDs(image.diffIDs)[0],
  ]);
  assert.ok(snapshots.calls.some((c) => c.startsWith("remove extract-")));
  assert.deepEqual(content.labels(image.config.digest), {});
});

Deno.test("an apply failure keeps its code and removes the snapshot", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a"] });
  applier.failing.add(image.layers[0].digest);
  await rejectsWith(
    () =>
      unpack({
        content,
        snapshots,
        applier,
        snapshotter: "s",
        image: image.manifest,
      }),
    Code.InvalidArgument,
    /^failed to extract layer sha256:[a-f0-9]+: layer .*broken tar/,
  );
  assert.equal(snapshots.snapshots.size, 0);
});

Deno.test("layer and diffID counts must agree; non-layers are refused", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b"] });
  await rejectsWith(
    () =>
      unpackLayers({
        snapshots,
        applier,
        layers: image.layers,
        diffIDs: image.diffIDs.slice(1),
      }),
    Code.InvalidArgument,
    /number of layers and diffIDs don't match: 2 != 1/,
  );
  await rejectsWith(
    () =>
      unpackLayers({
        snapshots,
        applier,
        layers: [{ ...image.layers[0], mediaType: "application/x-unknown" }],
        diffIDs: image.diffIDs.slice(0, 1),
      }),
    Code.Unimplemented,
    /unsupported layer media type/,
  );
  assert.deepEqual(snapshots.calls, []);
});

Deno.test("prepare collisions are retried with a new key", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a"] });
  snapshots.prepareCollisions = 2;
  const result = await unpackLayers({
    snapshots,
    applier,
    layers: image.layers,
    diffIDs: image.diffIDs,
  });
  assert.deepEqual(result.layers.map((l) => l.applied), [true]);
  const keys = snapshots.calls.filter((c) => c.startsWith("prepare")).map((c) =>
    c.split(" ")[1]
  );
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 3);
  snapshots.prepareCollisions = 5;
  const other = buildImage(content, { layers: ["z"] });
  await rejectsWith(
    () =>
      unpackLayers({
        snapshots,
        applier,
        layers: other.layers,
        diffIDs: other.diffIDs,
      }),
    Code.AlreadyExists,
    /unable to prepare extraction snapshot/,
  );
});

Deno.test("a commit that loses a race counts as done", async () => {
  const { content, applier } = setup();
  const image = buildImage(content, { layers: ["a"] });
  const chain = chainIDs(image.diffIDs);
  const snapshots = new FakeSnapshots();
  const commit = snapshots.commit.bind(snapshots);
  snapshots.commit = (name, key, options) => {
    // Another unpacker commits the same chain ID first.
    snapshots.snapshots.set(name, {
      kind: "committed",
      parent: "",
      labels: {},
    });
    return commit(name, key, options);
  };
  const result = await unpackLayers({
    snapshots,
    applier,
    layers: image.layers,
    diffIDs: image.diffIDs,
  });
  assert.deepEqual(result.layers.map((l) => l.applied), [false]);
  assert.deepEqual([...snapshots.snapshots.keys()], [chain[0]]);
});

Deno.test("unpackLayers applies from sources as they become available", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, {
    layers: ["a", "b"],
    withoutLayers: true,
  });
  const blobs = image.tars.map((tar) => new Uint8Array(gzipSync(tar)));
  let release!: () => void;
  const second = new Promise<void>((resolve) => release = resolve);
  const secondAsked = Promise.withResolvers<void>();
  const firstApplied = Promise.withResolvers<void>();
  const apply = applier.apply.bind(applier);
  applier.apply = async (...args) => {
    const applied = await apply(...args);
    firstApplied.resolve();
    return applied;
  };
  const asked: number[] = [];
  const done = unpackLayers({
    snapshots,
    applier,
    layers: image.layers,
    diffIDs: image.diffIDs,
    sources: async (i) => {
      asked.push(i);
      if (i === 1) {
        secondAsked.resolve();
        await second;
      }
      return bytesStream(blobs[i]);
    },
  });
  // Layer 0 is applied while layer 1 is still "downloading".
  await Promise.all([secondAsked.promise, firstApplied.promise]);
  assert.deepEqual(asked, [0, 1]);
  assert.equal(applier.applied.length, 1);
  release();
  const result = await done;
  assert.deepEqual(applier.applied.map((a) => a.streamed), [true, true]);
  assert.equal(result.chainID, chainIDs(image.diffIDs)[1]);
});

Deno.test("sources of skipped layers are cancelled", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b"] });
  await unpackLayers({
    snapshots,
    applier,
    layers: image.layers,
    diffIDs: image.diffIDs,
  });
  let cancelled = 0;
  const sources = image.layers.map(() =>
    new ReadableStream<Uint8Array>({
      cancel() {
        cancelled++;
      },
    })
  );
  const result = await unpackLayers({
    snapshots,
    applier,
    layers: image.layers,
    diffIDs: image.diffIDs,
    sources,
  });
  assert.deepEqual(result.layers.map((l) => l.applied), [false, false]);
  assert.equal(cancelled, 2);
});

Deno.test("concurrent unpacks of one image extract each layer once", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b"] });
  const run = () =>
    unpackLayers({
      snapshots,
      applier,
      layers: image.layers,
      diffIDs: image.diffIDs,
      snapshotter: "s",
    });
  const [one, two] = await Promise.all([run(), run()]);
  assert.equal(one.chainID, two.chainID);
  assert.equal(applier.applied.length, 2);
});

Deno.test("an aborted unpack stops between layers", async () => {
  const { content, snapshots, applier } = setup();
  const image = buildImage(content, { layers: ["a", "b"] });
  const controller = new AbortController();
  await rejectsWith(
    () =>
      unpackLayers({
        snapshots,
        applier,
        layers: image.layers,
        diffIDs: image.diffIDs,
        signal: controller.signal,
        onLayer: () => controller.abort(),
      }),
    Code.Canceled,
  );
  assert.equal(applier.applied.length, 1);
});

Deno.test("snapshot labels inherit containerd.io/snapshot/ annotations", () => {
  const layer = {
    mediaType: OCI.LAYER_GZIP,
    digest: sha256("x"),
    size: 1,
    annotations: {
      "containerd.io/snapshot/remote": "yes",
      "org.opencontainers.image.title": "no",
    },
  };
  assert.deepEqual(snapshotLabels(layer, "sha256:c"), {
    "containerd.io/snapshot/remote": "yes",
    "containerd.io/snapshot.ref": "sha256:c",
  });
  assert.match(
    extractionKey("sha256:c"),
    /^extract-\d+-[A-Za-z0-9_-]{4} sha256:c$/,
  );
});
