/**
 * {@linkcode Image}: an image record of the daemon and what the client
 * computes from its content — the manifest and config for a platform, the
 * rootfs chain ID, and unpacking into a snapshotter (`Snapshots.Prepare`,
 * `Diff.Apply`, `Snapshots.Commit`, as containerd's client does). The
 * image logic itself is berth's pure helpers in `src/images/`.
 *
 * @module
 */
import { Diff } from "../gen/containerd/services/diff/v1/diff_pb.ts";
import {
  type Image as ImageRecord,
  Images,
} from "../gen/containerd/services/images/v1/images_pb.ts";
import { chainID } from "../images/identity.ts";
import {
  type ImageConfig,
  manifestFor,
  type PlatformManifest,
  readConfig,
} from "../images/manifest.ts";
import { type LayerApplier, unpack } from "../images/unpack.ts";
import type { Descriptor } from "../types/descriptor.ts";
import {
  defaultPlatformMatcher,
  type PlatformMatcher,
} from "../types/platform.ts";
import type { CoreClient as Client } from "./core.ts";
import { ContentStore } from "./content.ts";
import { isNotFound } from "./errors.ts";
import { Snapshotter } from "./snapshots.ts";

/**
 * A descriptor from the wire as a plain value.
 *
 * @example
 * ```ts
 * import { descriptorFromWire } from "@berth/berth/client";
 * const desc = descriptorFromWire({ mediaType: "application/vnd.oci.image.index.v1+json", digest: "sha256:…", size: 10n, annotations: {} });
 * console.log(desc.size); // 10
 * ```
 */
export function descriptorFromWire(
  desc: {
    mediaType: string;
    digest: string;
    size: bigint;
    annotations?: Record<string, string>;
  } | undefined,
): Descriptor {
  return {
    mediaType: desc?.mediaType ?? "",
    digest: desc?.digest ?? "",
    size: Number(desc?.size ?? 0n),
  };
}

/**
 * The differ of the daemon (`Diff.Apply`) as berth's unpacker applies
 * layers: the layer blob is read from the daemon's content store.
 *
 * @example
 * ```ts
 * import { Client, DiffApplier } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const applier = new DiffApplier(client);
 * ```
 */
export class DiffApplier implements LayerApplier {
  readonly #client: Client;

  /** Applies through `client`'s daemon. */
  constructor(client: Client) {
    this.#client = client;
  }

  /** Applies `layer` onto `mounts`; returns the uncompressed diff. */
  async apply(
    layer: Descriptor,
    mounts: readonly { type: string; source: string; options: string[] }[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Descriptor> {
    if ("source" in options && options.source) {
      throw new TypeError("the daemon's differ reads layers from content");
    }
    const { applied } = await this.#client.service(Diff).apply({
      diff: {
        mediaType: layer.mediaType,
        digest: layer.digest,
        size: BigInt(layer.size),
      },
      mounts: mounts.map((m) => ({ ...m, options: [...m.options] })),
    }, { signal: options.signal });
    return descriptorFromWire(applied);
  }
}

/**
 * Options of {@linkcode Image.unpack}.
 *
 * @example
 * ```ts
 * import { Client, type UnpackImageOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const options: UnpackImageOptions = {};
 * await (await client.getImage("docker.io/library/busybox:latest")).unpack("overlayfs", options);
 * ```
 */
export interface UnpackImageOptions {
  /** Which manifest of an index (default: the host's platform). */
  platform?: PlatformMatcher;
  /** Aborts the unpack. */
  signal?: AbortSignal;
}

/**
 * An image of the daemon, and what the client reads of it.
 *
 * @example
 * ```ts
 * import { Client } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await client.getImage("docker.io/library/busybox:latest");
 * console.log(image.target.digest, await image.chainID());
 * ```
 */
export class Image {
  /** The image's name (its reference). */
  readonly name: string;
  /** The root manifest or index. */
  readonly target: Descriptor;
  /** The record's labels. */
  readonly labels: Record<string, string>;
  /** The record as the daemon sent it. */
  readonly record: ImageRecord;
  readonly #client: Client;
  readonly #content: ContentStore;

  /** The image `record` of `client`'s daemon. */
  constructor(client: Client, record: ImageRecord) {
    this.#client = client;
    this.#content = new ContentStore(client);
    this.record = record;
    this.name = record.name;
    this.target = descriptorFromWire(record.target);
    this.labels = record.labels;
  }

  /** The same image, read through `client` (e.g. one with a lease). */
  with(client: Client): Image {
    return new Image(client, this.record);
  }

  /** The manifest for `platform` (default: the host's). */
  manifest(
    platform: PlatformMatcher = defaultPlatformMatcher(),
  ): Promise<PlatformManifest> {
    return manifestFor(this.#content, this.target, platform);
  }

  /** The image config for `platform` (default: the host's). */
  async config(
    platform: PlatformMatcher = defaultPlatformMatcher(),
  ): Promise<ImageConfig> {
    const { manifest } = await this.manifest(platform);
    return await readConfig(this.#content, manifest.config);
  }

  /** The diffIDs of its layers for `platform`, base first. */
  async rootFS(
    platform: PlatformMatcher = defaultPlatformMatcher(),
  ): Promise<string[]> {
    return (await this.config(platform)).diffIDs;
  }

  /** The chain ID of its layers: the snapshot a rootfs is prepared on. */
  async chainID(
    platform: PlatformMatcher = defaultPlatformMatcher(),
  ): Promise<string> {
    return chainID(await this.rootFS(platform));
  }

  /** Whether its rootfs snapshot exists in `snapshotter`. */
  async isUnpacked(
    snapshotter = "",
    platform: PlatformMatcher = defaultPlatformMatcher(),
  ): Promise<boolean> {
    const chain = await this.chainID(platform);
    try {
      await new Snapshotter(this.#client, snapshotter).stat(chain);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Unpacks its layers into `snapshotter` ("" for the default) as
   * committed snapshots named by chain ID, skipping layers unpacked
   * already, and labels the content so that the snapshots stay as long as
   * the image does. Returns the top chain ID. Run it in a lease
   * ({@linkcode Client.withLease}) so that nothing half made is collected.
   */
  async unpack(
    snapshotter = "",
    options: UnpackImageOptions = {},
  ): Promise<string> {
    const snapshots = new Snapshotter(this.#client, snapshotter);
    const result = await unpack({
      content: this.#content,
      snapshots,
      snapshotter: snapshots.name,
      applier: new DiffApplier(this.#client),
      image: this.target,
      platform: options.platform ?? defaultPlatformMatcher(),
      signal: options.signal,
    });
    return result.chainID;
  }
}

/**
 * The image named `name` of `client`'s daemon; NotFoundError when there
 * is none.
 *
 * @example
 * ```ts
 * import { Client, getImage } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await getImage(client, "docker.io/library/busybox:latest");
 * ```
 */
export async function getImage(client: Client, name: string): Promise<Image> {
  const { image } = await client.service(Images).get({ name });
  return new Image(client, image!);
}
