/**
 * A server-side push: every blob of the image's selected platforms goes to
 * the registry (layers and configs first, then manifests by digest, the
 * top last under its tag), skipping what the registry has and mounting
 * what another repository on the same host has.
 *
 * @module
 */
import {
  filterPlatforms,
  isIndex,
  isManifest,
  readIndex,
  readManifest,
} from "../images/mod.ts";
import type { RegistryClient } from "../remotes/mod.ts";
import {
  type Descriptor,
  platformMatcher,
  type PlatformSelection,
} from "../types/mod.ts";
import { imageContent } from "./_bindings.ts";
import type { TransferStores } from "./pull.ts";
import type { ProgressTracker } from "./progress.ts";

/** Options for {@linkcode push}. */
export interface PushOptions {
  /** The image record to push. */
  image: string;
  /** Where to push it; the image's own name by default. */
  reference?: string;
  /** The namespace of the image. */
  namespace: string;
  /** The registry client. */
  registry: RegistryClient;
  /** Platforms to push: every platform present by default. */
  platforms?: PlatformSelection;
  /** Where progress goes. */
  progress: ProgressTracker;
  /** Stops the push. */
  signal?: AbortSignal;
}

/** Pushes an image; returns its target descriptor. */
export async function push(
  stores: Pick<TransferStores, "content" | "images">,
  options: PushOptions,
): Promise<Descriptor> {
  const { registry, progress, signal } = options;
  const image = stores.images.get(options.namespace, options.image);
  const reference = options.reference || image.name;
  const content = imageContent(stores.content, {
    namespace: options.namespace,
  });
  const selection = options.platforms?.platforms?.length
    ? platformMatcher(options.platforms)
    : undefined;

  // Children before parents: blobs, then manifests, then the top.
  const order: { desc: Descriptor; kind: string }[] = [];
  const visit = async (desc: Descriptor): Promise<void> => {
    if (isIndex(desc.mediaType)) {
      const index = await readIndex(content, desc);
      const children = filterPlatforms(index.manifests, selection)
        .filter((child) => hasBlob(stores, options.namespace, child.digest));
      for (const child of children) await visit(child);
      order.push({ desc, kind: "index" });
    } else if (isManifest(desc.mediaType)) {
      const manifest = await readManifest(content, desc);
      order.push({ desc: manifest.config, kind: "config" });
      for (const layer of manifest.layers) {
        order.push({ desc: layer, kind: "layer" });
      }
      order.push({ desc, kind: "manifest" });
    }
  };
  await visit(image.target);
  for (const { desc, kind } of order) progress.set(kind, desc, "waiting");

  for (const [i, { desc, kind }] of order.entries()) {
    const top = i === order.length - 1;
    progress.set(kind, desc, "uploading");
    const labels = stores.content.info(options.namespace, desc.digest).labels;
    const result = await registry.push(
      reference,
      desc,
      () =>
        ReadableStream.from(
          stores.content.read(options.namespace, desc.digest),
        ),
      {
        labels,
        byDigest: !top && (kind === "manifest" || kind === "index"),
        signal,
      },
    );
    progress.set(
      kind,
      desc,
      result.status === "uploaded" ? "done" : result.status,
      desc.size,
    );
  }
  return image.target;
}

function hasBlob(
  stores: Pick<TransferStores, "content">,
  namespace: string,
  digest: string,
): boolean {
  try {
    stores.content.info(namespace, digest);
    return true;
  } catch {
    return false;
  }
}
