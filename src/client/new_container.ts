/**
 * A new container from an image, as containerd's client makes one: the
 * image unpacked if it is not, an active snapshot prepared on its rootfs
 * chain, the OCI spec built from spec options (the snapshot mounted
 * briefly, so that users and groups resolve in it), and the record
 * created — all under a lease. The spec options are `src/oci/`'s.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Containers } from "../gen/containerd/services/containers/v1/containers_pb.ts";
import {
  generateSpec,
  type ImageConfig as OciImageConfig,
  type SpecOpt,
  withDefaultUnixDevices,
  withImageConfig,
} from "../oci/mod.ts";
import { chainID } from "../images/identity.ts";
import type { PlatformMatcher } from "../types/platform.ts";
import type { CoreClient as Client } from "./core.ts";
import {
  Container,
  DEFAULT_RUNTIME,
  SPEC_TYPE_URL,
  STOP_SIGNAL_LABEL,
} from "./container.ts";
import type { Image } from "./image.ts";
import { withLease } from "./leases.ts";
import { withTempMount } from "./mount.ts";
import { Snapshotter } from "./snapshots.ts";
import { specJSON } from "./spec_json.ts";

/** The longest a label's key and value may be together (containerd's). */
const MAX_LABEL_SIZE = 4096;

/**
 * What spec options are built from.
 *
 * @example
 * ```ts
 * import { Client, type SpecContext, withProcessArgs, withUser } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await client.getImage("docker.io/library/busybox:latest");
 * await client.newContainer("c1", {
 *   image,
 *   spec: ({ rootfs }: SpecContext) => [withProcessArgs("id"), withUser("nobody", { rootfs })],
 * });
 * ```
 */
export interface SpecContext {
  /** The image config's `config` section. */
  imageConfig: OciImageConfig;
  /** Where the new snapshot is mounted while the spec is built. */
  rootfs: string;
}

/**
 * Options of {@linkcode newContainer}.
 *
 * @example
 * ```ts
 * import { Client, type NewContainerOptions, withEnv } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const options: NewContainerOptions = {
 *   image: await client.getImage("docker.io/library/busybox:latest"),
 *   spec: [withEnv(["A=1"])],
 * };
 * await client.newContainer("c1", options);
 * ```
 */
export interface NewContainerOptions {
  /** The image whose rootfs the container gets (a new snapshot on it). */
  image?: Image;
  /** The platform of the image (default: the host's). */
  platform?: PlatformMatcher;
  /** The snapshotter ("" for the default). */
  snapshotter?: string;
  /** The new snapshot's key (default: the container id). */
  snapshotKey?: string;
  /**
   * Spec options: applied after the defaults and the image config; or a
   * function giving the whole list from the image config and the mounted
   * rootfs (to order them as ctr does, or to resolve users there).
   */
  spec?: SpecOpt[] | ((context: SpecContext) => SpecOpt[]);
  /** The runtime (default {@linkcode DEFAULT_RUNTIME}). */
  runtime?: string;
  /** Labels of the container. */
  labels?: Record<string, string>;
  /**
   * Also label it, as ctr does, with the image config's labels, the image
   * record's and the image's stop signal; `onSkippedLabel` hears of image
   * labels too large to copy.
   */
  imageLabels?: boolean;
  /** Told of an image label not copied (too large). */
  onSkippedLabel?: (key: string) => void;
}

/** The container's labels: the image's (if asked), then the given ones. */
function containerLabels(
  options: NewContainerOptions,
  imageConfig: Record<string, unknown>,
): Record<string, string> {
  if (!options.imageLabels || !options.image) return { ...options.labels };
  const labels: Record<string, string> = {
    ...(imageConfig.Labels as Record<string, string> | null | undefined),
  };
  for (const [k, v] of Object.entries(options.image.labels)) {
    if (k.length + v.length > MAX_LABEL_SIZE) {
      options.onSkippedLabel?.(k);
      continue;
    }
    labels[k] = v;
  }
  Object.assign(labels, options.labels);
  labels[STOP_SIGNAL_LABEL] = (imageConfig.StopSignal as string) || "SIGTERM";
  return labels;
}

/**
 * Creates container `id`; returns it. The snapshot is removed again when
 * the record cannot be made.
 *
 * @example
 * ```ts
 * import { Client, newContainer, withProcessArgs } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const image = await client.getImage("docker.io/library/busybox:latest");
 * const container = await newContainer(client, "c1", {
 *   image,
 *   spec: [withProcessArgs("echo", "hello")],
 * });
 * ```
 */
export function newContainer(
  client: Client,
  id: string,
  options: NewContainerOptions = {},
): Promise<Container> {
  return withLease(client, async (leased) => {
    const namespace = client.context.namespace;
    const snapshots = new Snapshotter(leased, options.snapshotter);
    const image = options.image;
    let imageConfig: Record<string, unknown> = {};
    let snapshotKey = "";
    let mounts: Awaited<ReturnType<Snapshotter["prepare"]>> = [];
    if (image) {
      const config = await image.config(options.platform);
      imageConfig = (config.raw.config ?? {}) as Record<string, unknown>;
      const chain = chainID(config.diffIDs);
      if (!(await snapshots.exists(chain))) {
        await image.with(leased).unpack(snapshots.name, {
          platform: options.platform,
        });
      }
      snapshotKey = options.snapshotKey ?? id;
      mounts = await snapshots.prepare(snapshotKey, chain);
    }
    try {
      const build = async (rootfs: string) => {
        const context = { imageConfig: imageConfig as OciImageConfig, rootfs };
        const opts = typeof options.spec === "function"
          ? options.spec(context)
          : [
            withDefaultUnixDevices(),
            ...(image
              ? [withImageConfig(context.imageConfig, { rootfs })]
              : []),
            ...(options.spec ?? []),
          ];
        return await generateSpec({ id, namespace }, ...opts);
      };
      const spec = image ? await withTempMount(mounts, build) : await build("");
      const runtime = options.runtime ?? DEFAULT_RUNTIME;
      const { container } = await leased.service(Containers).create({
        container: {
          id,
          image: image?.name ?? "",
          labels: containerLabels(options, imageConfig),
          snapshotter: image ? snapshots.name : "",
          snapshotKey,
          runtime: {
            name: runtime,
            options: runtime === DEFAULT_RUNTIME
              ? create(AnySchema, { typeUrl: "containerd.runc.v1.Options" })
              : undefined,
          },
          spec: create(AnySchema, {
            typeUrl: SPEC_TYPE_URL,
            value: new TextEncoder().encode(specJSON(spec)),
          }),
        },
      });
      return new Container(client, container!);
    } catch (err) {
      if (snapshotKey) await snapshots.remove(snapshotKey).catch(() => {});
      throw err;
    }
  });
}
