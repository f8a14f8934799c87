/**
 * A pull from the client, as containerd's client pulls: the registry is
 * contacted by this process (berth's registry client, `src/remotes/`),
 * every blob is written through `Content.Write` with the labels that
 * keep an image's content together, the image record is created, and the
 * image optionally unpacked — all under a lease. Only the containerd v1
 * API is used, so it works against containerd as against berth.
 *
 * @module
 */
import { Images } from "../gen/containerd/services/images/v1/images_pb.ts";
import { bytesStream } from "../images/content.ts";
import {
  type ImageDescriptor,
  parseIndex,
  parseManifest,
  stableSort,
} from "../images/manifest.ts";
import { isIndex, isManifest } from "../images/mediatypes.ts";
import { childLabels, filterPlatforms } from "../images/walk.ts";
import {
  RegistryClient,
  type RegistryClientOptions,
} from "../remotes/client.ts";
import {
  defaultPlatformMatcher,
  type PlatformMatcher,
} from "../types/platform.ts";
import type { CoreClient as Client } from "./core.ts";
import { ContentStore } from "./content.ts";
import { isAlreadyExists } from "./errors.ts";
import { Image } from "./image.ts";
import { withLease } from "./leases.ts";

/**
 * Where one blob of a pull is.
 *
 * @example
 * ```ts
 * import { Client, type PullProgress } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * await client.pull("127.0.0.1:5000/busybox:latest", {
 *   onProgress: (p: PullProgress) => console.log(p.descriptor.digest, p.status, p.offset),
 * });
 * ```
 */
export interface PullProgress {
  /** The blob. */
  descriptor: ImageDescriptor;
  /** `downloading`, `exists` (already stored) or `done`. */
  status: "downloading" | "exists" | "done";
  /** Bytes stored so far. */
  offset: number;
}

/**
 * Options of {@linkcode pull}.
 *
 * @example
 * ```ts
 * import { Client, type PullOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const options: PullOptions = { unpack: true, registry: { plainHttp: true } };
 * await client.pull("127.0.0.1:5000/busybox:latest", options);
 * ```
 */
export interface PullOptions {
  /** Unpack the image into `snapshotter` once fetched. */
  unpack?: boolean;
  /** The snapshotter to unpack into ("" for the default). */
  snapshotter?: string;
  /** Which manifest of an index to fetch (default: the host's). */
  platform?: PlatformMatcher;
  /** Fetch every manifest of an index. */
  allPlatforms?: boolean;
  /** Labels of the image record. */
  labels?: Record<string, string>;
  /** Registry settings (hosts directory, credentials, plain HTTP …). */
  registry?: RegistryClientOptions;
  /** Told about each blob as it progresses. */
  onProgress?: (progress: PullProgress) => void;
}

/** Largest manifest or index accepted (containerd's limit). */
const MAX_MANIFEST_BYTES = 4 << 20;

/**
 * Pulls `ref` into the daemon behind `client`; returns the image.
 *
 * @example
 * ```ts
 * import { Client, pull } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await pull(client, "127.0.0.1:5000/busybox:latest", { unpack: true });
 * console.log(image.name, image.target.digest);
 * ```
 */
export async function pull(
  client: Client,
  ref: string,
  options: PullOptions = {},
): Promise<Image> {
  const registry = new RegistryClient(options.registry);
  try {
    return await withLease(client, async (leased) => {
      const content = new ContentStore(leased);
      const platform = options.allPlatforms
        ? undefined
        : options.platform ?? defaultPlatformMatcher();
      const signal = leased.context.signal;
      const resolved = await registry.resolve(ref, { signal });
      const report = options.onProgress ?? (() => {});

      const readAll = async (desc: ImageDescriptor): Promise<Uint8Array> => {
        const stream = await registry.fetch(resolved.name, desc, { signal });
        const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
        if (bytes.length > MAX_MANIFEST_BYTES) {
          throw new Error(`${desc.digest}: manifest larger than 4 MiB`);
        }
        return bytes;
      };

      const fetchBlob = async (desc: ImageDescriptor): Promise<void> => {
        if (isIndex(desc.mediaType) || isManifest(desc.mediaType)) {
          const bytes = await readAll(desc);
          let children: ImageDescriptor[];
          if (isIndex(desc.mediaType)) {
            const index = parseIndex(bytes, { mediaType: desc.mediaType });
            children = filterPlatforms(index.manifests, platform);
            if (platform) {
              children = stableSort(children, (a, b) => {
                if (!a.platform) return false;
                if (!b.platform) return true;
                return platform.less(a.platform, b.platform);
              }).slice(0, 1);
            }
          } else {
            const manifest = parseManifest(bytes, {
              mediaType: desc.mediaType,
            });
            children = [manifest.config, ...manifest.layers];
          }
          // Children first: a parent is never stored without them.
          await Promise.all(children.map(fetchBlob));
          await content.write(
            `manifest-${desc.digest}`,
            bytesStream(bytes),
            {
              expected: desc.digest,
              size: desc.size,
              labels: childLabels(children),
            },
          );
          report({ descriptor: desc, status: "done", offset: desc.size });
          return;
        }
        const present = await content.info(desc.digest).then(
          () => true,
          () => false,
        );
        if (present) {
          report({ descriptor: desc, status: "exists", offset: desc.size });
          return;
        }
        const stream = await registry.fetch(resolved.name, desc, { signal });
        let offset = 0;
        const counted = stream.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              offset += chunk.length;
              report({ descriptor: desc, status: "downloading", offset });
              controller.enqueue(chunk);
            },
          }),
        );
        await content.write(`layer-${desc.digest}`, counted, {
          expected: desc.digest,
          size: desc.size,
        });
        report({ descriptor: desc, status: "done", offset: desc.size });
      };

      await fetchBlob(resolved.descriptor);
      const record = {
        name: resolved.name,
        target: {
          mediaType: resolved.descriptor.mediaType,
          digest: resolved.descriptor.digest,
          size: BigInt(resolved.descriptor.size),
        },
        labels: options.labels ?? {},
      };
      const images = leased.service(Images);
      let created;
      try {
        ({ image: created } = await images.create({ image: record }));
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        ({ image: created } = await images.update({ image: record }));
      }
      const image = new Image(client, created!);
      if (options.unpack) {
        await new Image(leased, created!).unpack(options.snapshotter, {
          platform: options.platform,
        });
      }
      return image;
    });
  } finally {
    registry.close();
  }
}
