/**
 * Archive import and export on the daemon's stores: blobs first, under a
 * lease, image records last; then, optionally, unpacking.
 *
 * @module
 */
import {
  addRefPrefix,
  exportArchive,
  importArchive,
  unpack,
} from "../images/mod.ts";
import type { Image } from "../metadata/mod.ts";
import {
  BerthError,
  Code,
  platformMatcher,
  type PlatformSelection,
} from "../types/mod.ts";
import {
  imageContent,
  imageSnapshots,
  layerApplier,
  type Scope,
} from "./_bindings.ts";
import type { TransferStores } from "./pull.ts";

/** Options for {@linkcode importImages}. */
export interface ImportImagesOptions {
  /** The namespace to import into. */
  namespace: string;
  /** Prefix for bare ref names (ctr's `--base-name`). */
  baseName?: string;
  /** Also name each image `NAME@DIGEST`. */
  digests?: boolean;
  /** Name for the archive's whole index. */
  indexName?: string;
  /** Platforms to import (and unpack). */
  platforms?: PlatformSelection;
  /** Unpack into this snapshotter; none to only import. */
  snapshotter?: string;
  /** Labels of the image records. */
  labels?: Record<string, string>;
  /** Stops the import. */
  signal?: AbortSignal;
}

/** Imports an OCI or Docker archive; returns the images it named. */
export async function importImages(
  stores: TransferStores,
  archive: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: ImportImagesOptions,
): Promise<Image[]> {
  const lease = stores.leases.create(options.namespace, {
    id: `import-${crypto.randomUUID()}`,
    labels: {
      "containerd.io/gc.expire": new Date(Date.now() + 3600_000).toISOString(),
    },
  });
  const scope: Scope = { namespace: options.namespace, lease: lease.id };
  try {
    const content = imageContent(stores.content, scope);
    const matcher = platformMatcher(options.platforms);
    const result = await importArchive(archive, {
      content,
      platform: matcher,
      allPlatforms: options.platforms?.all,
      indexName: options.indexName,
      refTranslator: options.baseName
        ? addRefPrefix(options.baseName)
        : undefined,
      digestRef: options.digests
        ? (digest) => `${options.baseName ?? "import"}@${digest}`
        : undefined,
      signal: options.signal,
    });
    const images: Image[] = [];
    for (const { name, target } of result.images) {
      const record = { name, target, labels: options.labels ?? {} };
      try {
        images.push(stores.images.create(options.namespace, record));
      } catch (err) {
        if (!BerthError.is(err, Code.AlreadyExists)) throw err;
        images.push(
          stores.images.update(options.namespace, record, ["target"]),
        );
      }
      if (options.snapshotter) {
        await unpack({
          content,
          snapshots: imageSnapshots(
            stores.snapshots,
            options.snapshotter,
            scope,
          ),
          snapshotter: options.snapshotter,
          applier: layerApplier(stores.differ, stores.content, scope),
          image: target,
          platform: matcher,
          signal: options.signal,
        });
      }
    }
    return images;
  } finally {
    stores.leases.delete(options.namespace, lease.id);
  }
}

/** Options for {@linkcode exportImages}. */
export interface ExportImagesOptions {
  /** The namespace of the images. */
  namespace: string;
  /** Image names to export. */
  images: readonly string[];
  /** Platforms to export. */
  platforms?: PlatformSelection;
  /** Leave out non-distributable layers. */
  skipNonDistributable?: boolean;
  /** Leave out the Docker `manifest.json`. */
  skipDockerManifest?: boolean;
  /** Stops the export. */
  signal?: AbortSignal;
}

/** Exports images as an OCI archive stream. */
export async function exportImages(
  stores: Pick<TransferStores, "content" | "images">,
  options: ExportImagesOptions,
): Promise<ReadableStream<Uint8Array>> {
  const images = options.images.map((name) => {
    const image = stores.images.get(options.namespace, name);
    return { target: image.target, names: [name] };
  });
  return await exportArchive({
    content: imageContent(stores.content, { namespace: options.namespace }),
    images,
    platform: platformMatcher(options.platforms),
    allPlatforms: options.platforms?.all,
    skipNonDistributable: options.skipNonDistributable,
    skipDockerManifest: options.skipDockerManifest,
    signal: options.signal,
  });
}
