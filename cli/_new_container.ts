/**
 * A new container from an image, as ctr's `run` makes it on the client:
 * the image unpacked if it is not, an active snapshot prepared on its
 * rootfs chain, the OCI spec generated from the image config and the flags
 * (the snapshot mounted briefly so that users and groups resolve in it),
 * and the container record created, all under a temporary lease.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import {
  type Container,
  Containers,
} from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../src/gen/containerd/types/mount_pb.ts";
import {
  generateSpec,
  type ImageConfig,
  type Spec,
  type SpecOpt,
  withAllDevicesAllowed,
  withAnnotations,
  withCPUs,
  withCPUShares,
  withCwd,
  withDefaultUnixDevices,
  withEnv,
  withHostDevices,
  withHostname,
  withHostNetwork,
  withImageConfig,
  withLinuxNamespace,
  withMemoryLimit,
  withMounts,
  withPrivileged,
  withProcessArgs,
  withReadonlyRootfs,
  withTTY,
  withUser,
} from "../src/oci/mod.ts";
import { defaultPlatformMatcher } from "../src/types/platform.ts";
import type { Connection } from "./_client.ts";
import { errorMessage } from "../src/client/errors.ts";
import { parseLabelArgs } from "./_format.ts";
import {
  chainID,
  ContentReader,
  fromWire,
  imageManifest,
  isNotFound,
} from "./_images.ts";
import { specJSON } from "../src/client/spec_json.ts";
import {
  logLine,
  mountArgs,
  runTool,
  unmountAll,
  unpack,
} from "./commands/images.ts";
import { temporaryLease } from "./commands/leases.ts";
import { DEFAULT_SNAPSHOTTER, uniquePart } from "./commands/snapshots.ts";

/** The type URL of an OCI runtime spec in an `Any`. */
export const SPEC_TYPE_URL =
  "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/** The runtime ctr runs containers with. */
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

/** The container label holding the image's stop signal. */
export const STOP_SIGNAL_LABEL = "io.containerd.image.config.stop-signal";

/** What the flags of `run` ask for. */
export interface NewContainerOptions {
  /** Container id. */
  id: string;
  /** Image reference. */
  ref: string;
  /** Command and arguments; the image's when empty. */
  args: string[];
  /** `KEY=VALUE` environment. */
  env: string[];
  /** Working directory. */
  cwd?: string;
  /** User (`user`, `uid`, `user:group`, `uid:gid`). */
  user?: string;
  /** ctr `--mount` values. */
  mounts: string[];
  /** `KEY=VALUE` labels (also written as annotations). */
  labels: string[];
  /** Use the host's network namespace. */
  netHost?: boolean;
  /** ctr `--with-ns` values: `TYPE:PATH` namespaces to join. */
  withNs?: string[];
  /** The container's hostname; unset leaves the spec's. */
  hostname?: string;
  /** Memory limit in bytes (0: none). */
  memoryLimit?: number;
  /** CFS quota in CPUs (0: none). */
  cpus?: number;
  /** CPU shares. */
  cpuShares?: number;
  /** Allocate a terminal. */
  tty?: boolean;
  /** Privileged container. */
  privileged?: boolean;
  /** Read-only root filesystem. */
  readOnly?: boolean;
  /** Runtime name. */
  runtime: string;
  /** Snapshotter ("" for the default). */
  snapshotter: string;
}

/** The part of an image config a container takes. */
interface ImageConfigDocument {
  config?: ImageConfig & {
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
}

/** The longest a label's key and value may be together (containerd's). */
const MAX_LABEL_SIZE = 4096;

/**
 * The container's labels, as ctr computes them: the image config's, the
 * image record's (valid ones), the flags', and the stop signal.
 */
function containerLabels(
  config: ImageConfigDocument["config"],
  imageLabels: Record<string, string>,
  flagLabels: Record<string, string>,
): Record<string, string> {
  const labels: Record<string, string> = { ...config?.Labels };
  for (const [k, v] of Object.entries(imageLabels)) {
    if (k.length + v.length > MAX_LABEL_SIZE) {
      Deno.stderr.writeSync(new TextEncoder().encode(logLine(
        "warning",
        `unable to add image label with key ${k} to the container`,
        new Error(`label key and value greater than maximum size`),
      )));
      continue;
    }
    labels[k] = v;
  }
  Object.assign(labels, flagLabels);
  labels[STOP_SIGNAL_LABEL] = config?.StopSignal || "SIGTERM";
  return labels;
}

/** Runs `fn` with `mounts` mounted on a temporary directory. */
async function withTempMount<T>(
  mounts: readonly Mount[],
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const root = await Deno.makeTempDir({ prefix: "berth-ctr-mount-" });
  try {
    for (const m of mounts) await runTool("mount", mountArgs(m, root));
    return await fn(root);
  } finally {
    await unmountAll(root);
    await Deno.remove(root);
  }
}

/** The spec options of `options`, in the order ctr applies them. */
function specOpts(
  options: NewContainerOptions,
  config: ImageConfig,
  rootfs: string,
): SpecOpt[] {
  const opts: SpecOpt[] = [
    withDefaultUnixDevices(),
    withEnv(options.env),
    withMounts(options.mounts),
    withImageConfig(config, { rootfs }),
  ];
  if (options.readOnly) opts.push(withReadonlyRootfs());
  if (options.args.length) opts.push(withProcessArgs(...options.args));
  if (options.cwd) opts.push(withCwd(options.cwd));
  if (options.user) opts.push(withUser(options.user, { rootfs }));
  if (options.tty) opts.push(withTTY());
  if (options.privileged) {
    opts.push(withPrivileged(), withAllDevicesAllowed(), withHostDevices());
  }
  if (options.netHost) opts.push(withHostNetwork());
  if (options.hostname) opts.push(withHostname(options.hostname));
  for (const value of options.withNs ?? []) {
    const colon = value.indexOf(":");
    if (colon <= 0 || colon === value.length - 1) {
      throw new Error(
        `invalid --with-ns ${JSON.stringify(value)}: want '<nstype>:<path>'`,
      );
    }
    opts.push(withLinuxNamespace({
      type: value.slice(0, colon),
      path: value.slice(colon + 1),
    }));
  }
  if (options.cpus && options.cpus > 0) opts.push(withCPUs(options.cpus));
  if (options.cpuShares && options.cpuShares > 0) {
    opts.push(withCPUShares(options.cpuShares));
  }
  if (options.memoryLimit) opts.push(withMemoryLimit(options.memoryLimit));
  opts.push(withAnnotations(parseLabelArgs(options.labels)));
  return opts;
}

/**
 * Creates the container `options` describe; returns its record. The
 * snapshot is removed again when the record cannot be made.
 */
export async function newContainer(
  conn: Connection,
  options: NewContainerOptions,
): Promise<Container> {
  const { signal } = conn;
  const snapshotter = options.snapshotter || DEFAULT_SNAPSHOTTER;
  const { image } = await conn.client(Images).get({ name: options.ref }, {
    signal,
  });
  if (!image) throw new Error(`image ${JSON.stringify(options.ref)} missing`);
  const reader = new ContentReader(conn);
  const target = fromWire(image.target);
  const matcher = defaultPlatformMatcher();
  const manifest = await imageManifest(reader, target, matcher);
  const document = await reader.json<
    ImageConfigDocument & {
      rootfs?: { diff_ids?: string[] };
    }
  >(manifest.config.digest);
  const chain = chainID(document.rootfs?.diff_ids ?? []);

  const leaseId = uniquePart();
  const leased = await temporaryLease(conn, leaseId);
  try {
    const snapshots = conn.client(Snapshots);
    try {
      await snapshots.stat({ snapshotter, key: chain }, leased);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await unpack(conn, reader, target, matcher, snapshotter, leased);
    }
    const { mounts } = await snapshots.prepare({
      snapshotter,
      key: options.id,
      parent: chain,
    }, leased);
    try {
      const spec: Spec = await withTempMount(mounts, (rootfs) =>
        generateSpec(
          { id: options.id, namespace: conn.options.namespace },
          ...specOpts(options, document.config ?? {}, rootfs),
        ));
      const { container } = await conn.client(Containers).create({
        container: {
          id: options.id,
          image: image.name,
          labels: containerLabels(
            document.config,
            image.labels,
            parseLabelArgs(options.labels),
          ),
          snapshotter,
          snapshotKey: options.id,
          runtime: {
            name: options.runtime,
            options: options.runtime === DEFAULT_RUNTIME
              ? create(AnySchema, { typeUrl: "containerd.runc.v1.Options" })
              : undefined,
          },
          spec: create(AnySchema, {
            typeUrl: SPEC_TYPE_URL,
            value: new TextEncoder().encode(specJSON(spec)),
          }),
        },
      }, leased);
      return container!;
    } catch (err) {
      await snapshots.remove({ snapshotter, key: options.id }, { signal })
        .catch((cleanup) =>
          console.error(
            `ctr: removing snapshot ${options.id}: ${errorMessage(cleanup)}`,
          )
        );
      throw err;
    }
  } finally {
    await conn.client(Leases).delete({ id: leaseId }, { signal }).catch(
      () => {},
    );
  }
}
