/**
 * The images component's narrow interfaces, bound to one namespace and
 * lease of the daemon's stores.
 *
 * @module
 */
import type { WalkingDiffer } from "../diff/mod.ts";
import type {
  ImageContent,
  ImageSnapshots,
  LayerApplier,
} from "../images/mod.ts";
import type {
  NamespacedContentStore,
  NamespacedSnapshotStore,
} from "../metadata/mod.ts";

/** Where and under which lease a transfer works. */
export interface Scope {
  /** The namespace. */
  namespace: string;
  /** The lease holding what the transfer creates. */
  lease?: string;
}

/** The content store as the images component sees it. */
export function imageContent(
  store: NamespacedContentStore,
  scope: Scope,
): ImageContent {
  const { namespace, lease } = scope;
  return {
    info: (digest) => store.info(namespace, digest),
    read: (digest) => store.read(namespace, digest),
    async write(ref, stream, options) {
      const writer = await store.writer(namespace, {
        ref,
        total: options.size,
        expected: options.expected,
        lease,
      });
      try {
        // A leftover ingest under this ref, or a blob shared from another
        // namespace, is written again from the stream: what the source
        // sends must be verified even when the blob is already on disk.
        if ((await writer.status()).offset > 0) await writer.truncate(0);
        for await (const chunk of stream) await writer.write(chunk);
        const digest = await writer.commit({
          size: options.size,
          expected: options.expected,
          labels: options.labels,
        });
        return { digest, size: (await writer.status()).offset };
      } finally {
        await writer.close();
      }
    },
    updateLabels(digest, labels) {
      store.update(
        namespace,
        { digest, labels },
        Object.keys(labels).map((key) => `labels.${key}`),
      );
    },
  };
}

/** One snapshotter as the images component sees it. */
export function imageSnapshots(
  store: NamespacedSnapshotStore,
  snapshotter: string,
  scope: Scope,
): ImageSnapshots {
  const { namespace, lease } = scope;
  return {
    stat: (key) => store.stat(namespace, snapshotter, key),
    prepare: (key, parent, options) =>
      store.prepare(namespace, snapshotter, key, parent, {
        labels: options.labels,
        lease,
      }),
    commit: (name, key, options) =>
      store.commit(namespace, snapshotter, name, key, {
        labels: options.labels,
        lease,
      }),
    remove: (key) => store.remove(namespace, snapshotter, key),
  };
}

/** The differ as the images component's layer applier. */
export function layerApplier(
  differ: WalkingDiffer,
  store: NamespacedContentStore,
  scope: Scope,
): LayerApplier {
  const { namespace } = scope;
  return {
    apply: (layer, mounts, options) =>
      differ.apply(
        {
          read: (digest) => store.read(namespace, digest),
          labels: (digest) => store.info(namespace, digest).labels,
        },
        layer,
        mounts,
        options,
      ),
  };
}
