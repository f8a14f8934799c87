/**
 * A server-side pull: resolve a reference, fetch the index, manifests and
 * configs, fetch layers concurrently straight into the content store, and
 * unpack each layer while it downloads (the applier follows the ingest
 * file as it grows). Everything is held by a lease until the image record
 * exists; a failed pull leaves nothing that looks complete.
 *
 * @module
 */
import type { WalkingDiffer } from "../diff/mod.ts";
import {
  childLabels,
  filterPlatforms,
  type ImageDescriptor,
  isIndex,
  isLayer,
  isManifest,
  readIndex,
  readManifest,
  unpack,
  writeBlob,
} from "../images/mod.ts";
import type {
  Image,
  ImageStore,
  LeaseStore,
  NamespacedContentStore,
  NamespacedSnapshotStore,
} from "../metadata/mod.ts";
import type { RegistryClient } from "../remotes/mod.ts";
import {
  BerthError,
  Code,
  type Descriptor,
  parseReference,
  platformMatcher,
  type PlatformSelection,
} from "../types/mod.ts";
import {
  imageContent,
  imageSnapshots,
  layerApplier,
  type Scope,
} from "./_bindings.ts";
import { Download } from "./_download.ts";
import type { ProgressTracker } from "./progress.ts";

/** The stores a transfer works on. */
export interface TransferStores {
  /** Namespaced content. */
  content: NamespacedContentStore;
  /** Namespaced snapshots. */
  snapshots: NamespacedSnapshotStore;
  /** Image records. */
  images: ImageStore;
  /** Leases. */
  leases: LeaseStore;
  /** The differ that applies layers. */
  differ: WalkingDiffer;
}

/** Options for {@linkcode pull}. */
export interface PullOptions {
  /** The reference to pull. */
  reference: string;
  /** The namespace to pull into. */
  namespace: string;
  /** The registry client. */
  registry: RegistryClient;
  /** Platforms to fetch (the host's by default). */
  platforms?: PlatformSelection;
  /** Unpack into this snapshotter; none to only fetch. */
  snapshotter?: string;
  /** Labels of the image record. */
  labels?: Record<string, string>;
  /** Layers fetched at once. */
  concurrency?: number;
  /** Where progress goes. */
  progress: ProgressTracker;
  /** Stops the pull. */
  signal?: AbortSignal;
}

/** What a pull made. */
export interface PullResult {
  /** The image record. */
  image: Image;
  /** The unpacked top snapshot (chain ID), when unpacked. */
  snapshot?: string;
}

/** `containerd.io/distribution.source.<host>` = repository, as containerd labels. */
function sourceLabel(reference: string): Record<string, string> {
  const ref = parseReference(reference);
  return {
    [`containerd.io/distribution.source.${ref.domain}`]: ref.repository,
  };
}

function kindOf(desc: Descriptor): string {
  if (isIndex(desc.mediaType)) return "index";
  if (isManifest(desc.mediaType)) return "manifest";
  if (isLayer(desc.mediaType)) return "layer";
  return "config";
}

/** Runs at most `limit` of the given tasks at once. */
async function limited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from(
    { length: Math.min(limit, items.length) },
    async () => {
      while (next < items.length) await task(items[next++]);
    },
  );
  await Promise.all(workers);
}

/** Pulls an image; see the module documentation. */
export async function pull(
  stores: TransferStores,
  options: PullOptions,
): Promise<PullResult> {
  const { registry, signal } = options;
  const resolved = await registry.resolve(options.reference, { signal });
  const lease = stores.leases.create(options.namespace, {
    id: `pull-${crypto.randomUUID()}`,
    labels: {
      "containerd.io/gc.expire": new Date(Date.now() + 3600_000).toISOString(),
    },
  });
  const scope: Scope = { namespace: options.namespace, lease: lease.id };
  try {
    return await pullUnder(stores, options, resolved, scope);
  } finally {
    stores.leases.delete(options.namespace, lease.id);
  }
}

async function pullUnder(
  stores: TransferStores,
  options: PullOptions,
  resolved: { name: string; descriptor: Descriptor },
  scope: Scope,
): Promise<PullResult> {
  const { registry, progress, signal } = options;
  const content = imageContent(stores.content, scope);
  const source = sourceLabel(resolved.name);
  const matcher = platformMatcher(options.platforms);

  /** Stores a small JSON blob (index, manifest, config) unless present. */
  const fetchSmall = async (desc: Descriptor) => {
    const kind = kindOf(desc);
    try {
      await content.info(desc.digest);
      progress.set(kind, desc, "exists", desc.size);
      await content.updateLabels(desc.digest, source);
      return;
    } catch (err) {
      if (!BerthError.is(err, Code.NotFound)) throw err;
    }
    progress.set(kind, desc, "downloading");
    const stream = await registry.fetch(resolved.name, desc, { signal });
    await writeBlob(content, `${kind}-${desc.digest}`, stream, {
      expected: desc.digest,
      size: desc.size,
      labels: source,
    });
    progress.set(kind, desc, "done", desc.size);
  };

  // The graph: index → manifests (by platform) → config and layers.
  await fetchSmall(resolved.descriptor);
  const manifests: ImageDescriptor[] = [];
  const visit = async (desc: ImageDescriptor): Promise<void> => {
    if (isIndex(desc.mediaType)) {
      const index = await readIndex(content, desc);
      let children = filterPlatforms(index.manifests, matcher);
      if (!options.platforms?.all) {
        // As ctr: the best match only, unless every platform is asked for.
        children = children.sort((a, b) =>
          a.platform && b.platform && matcher.less(a.platform, b.platform)
            ? -1
            : 0
        ).slice(0, 1);
      }
      if (children.length === 0) {
        throw new BerthError(
          Code.NotFound,
          `no match for platform in manifest ${desc.digest}`,
        );
      }
      await content.updateLabels(desc.digest, childLabels(children));
      for (const child of children) {
        await fetchSmall(child);
        await visit(child);
      }
    } else if (isManifest(desc.mediaType)) {
      manifests.push(desc);
    }
  };
  await visit(resolved.descriptor);

  // Configs, then every layer of every selected manifest, concurrently.
  const layers = new Map<string, Descriptor>();
  for (const desc of manifests) {
    const manifest = await readManifest(content, desc);
    await content.updateLabels(
      desc.digest,
      childLabels([manifest.config, ...manifest.layers]),
    );
    await fetchSmall(manifest.config);
    for (const layer of manifest.layers) layers.set(layer.digest, layer);
  }
  for (const layer of layers.values()) progress.set("layer", layer, "waiting");
  const downloads = new Map<string, Download>();
  for (const digest of layers.keys()) downloads.set(digest, new Download());
  const fetching = limited(
    [...layers.values()],
    Math.max(1, options.concurrency ?? 3),
    (layer) =>
      fetchLayer(stores, scope, registry, resolved.name, layer, source, {
        download: downloads.get(layer.digest)!,
        progress,
        signal,
      }),
  );
  fetching.catch(() => {});

  let snapshot: string | undefined;
  if (options.snapshotter) {
    const snapshotter = options.snapshotter;
    const unpacking = unpack({
      content,
      snapshots: imageSnapshots(stores.snapshots, snapshotter, scope),
      snapshotter,
      applier: layerApplier(stores.differ, stores.content, scope),
      image: resolved.descriptor,
      platform: matcher,
      blobsCommitted: fetching,
      signal,
      sources: async (_index, layer) => {
        const download = downloads.get(layer.digest);
        if (!download) return undefined;
        progress.set("layer", layer, "unpacking");
        try {
          const reader = await stores.content.openIngest(
            scope.namespace,
            `layer-${layer.digest}`,
          );
          return download.follow(reader);
        } catch (err) {
          if (!BerthError.is(err, Code.NotFound)) throw err;
          // Already stored (or shared from another namespace): read it there.
          await download.committed;
          return undefined;
        }
      },
      onLayer: (layer) => progress.set("layer", layer.layer, "done"),
    });
    try {
      snapshot = (await unpacking).chainID;
    } catch (err) {
      // Bytes that fail their digest make the unpack fail too, often first
      // and less clearly (a corrupt tar): the download's error wins.
      await fetching;
      throw err;
    }
  }
  await fetching;

  const record = {
    name: resolved.name,
    target: resolved.descriptor,
    labels: options.labels ?? {},
  };
  let image: Image;
  try {
    image = stores.images.create(scope.namespace, record);
  } catch (err) {
    if (!BerthError.is(err, Code.AlreadyExists)) throw err;
    image = stores.images.update(scope.namespace, record, ["target"]);
  }
  return { image, snapshot };
}

/** Bytes per content write: few large writes beat many small ones. */
const WRITE_CHUNK = 1 << 20;

/** Regroups a stream's chunks into chunks of `size` bytes (the last shorter). */
async function* rechunk(
  stream: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let used = 0;
  for await (let chunk of stream) {
    while (chunk.length > 0) {
      const take = Math.min(size - used, chunk.length);
      buffer.set(chunk.subarray(0, take), used);
      used += take;
      chunk = chunk.subarray(take);
      if (used === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        used = 0;
      }
    }
  }
  if (used > 0) yield buffer.subarray(0, used);
}

/** Fetches one layer into the content store, resuming a partial ingest. */
async function fetchLayer(
  stores: TransferStores,
  scope: Scope,
  registry: RegistryClient,
  reference: string,
  layer: Descriptor,
  labels: Record<string, string>,
  run: { download: Download; progress: ProgressTracker; signal?: AbortSignal },
): Promise<void> {
  const { download, progress, signal } = run;
  let writer;
  try {
    writer = await stores.content.writer(scope.namespace, {
      ref: `layer-${layer.digest}`,
      total: layer.size,
      expected: layer.digest,
      lease: scope.lease,
    });
  } catch (err) {
    if (!BerthError.is(err, Code.AlreadyExists)) {
      download.fail(err);
      throw err;
    }
    stores.content.update(scope.namespace, { digest: layer.digest, labels }, [
      ...Object.keys(labels).map((key) => `labels.${key}`),
    ]);
    progress.set("layer", layer, "exists", layer.size);
    download.finish();
    return;
  }
  let refused = false;
  try {
    const offset = (await writer.status()).offset;
    download.wrote(offset);
    if (offset < layer.size) {
      progress.set("layer", layer, "downloading", offset);
      // The content writer verifies the digest at commit: hash only once.
      const stream = await registry.fetch(reference, layer, {
        offset,
        signal,
        verifyDigest: false,
      });
      for await (const chunk of rechunk(stream, WRITE_CHUNK)) {
        await writer.write(chunk);
        download.wrote(chunk.length);
        progress.advance(layer.digest, download.written);
      }
    }
    await writer.commit({ size: layer.size, expected: layer.digest, labels });
    download.finish();
  } catch (err) {
    download.fail(err);
    refused = BerthError.is(err, Code.FailedPrecondition);
    throw err;
  } finally {
    await writer.close();
    // Bytes the registry sent wrong are not worth resuming: the next pull
    // starts the layer over (a refused commit otherwise keeps its ingest).
    if (refused) {
      await stores.content.abort(scope.namespace, `layer-${layer.digest}`)
        .catch(() => {});
    }
  }
}
