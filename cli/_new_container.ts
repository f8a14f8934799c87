/**
 * A new container from an image, as ctr's `run` makes it on the client:
 * the image unpacked if it is not, an active snapshot prepared on its
 * rootfs chain, the OCI spec generated from the image config and the flags
 * (the snapshot mounted briefly so that users and groups resolve in it),
 * and the container record created, all under a temporary lease.
 *
 * @module
 */
import type { Container } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import {
  type ImageConfig,
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
import { getImage } from "../src/client/image.ts";
import { newContainer as createContainer } from "../src/client/new_container.ts";
import type { Connection } from "./_client.ts";
import { parseLabelArgs } from "./_format.ts";
import { logLine } from "./_log.ts";

export { DEFAULT_RUNTIME } from "../src/client/container.ts";

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
 * Creates the container `options` describe, as ctr's `run` does (the
 * client library's `newContainer` with ctr's spec options and labels);
 * returns its record.
 */
export async function newContainer(
  conn: Connection,
  options: NewContainerOptions,
): Promise<Container> {
  const image = await getImage(conn.api, options.ref);
  const container = await createContainer(conn.api, options.id, {
    image,
    snapshotter: options.snapshotter,
    runtime: options.runtime,
    labels: parseLabelArgs(options.labels),
    imageLabels: true,
    onSkippedLabel: (key) =>
      Deno.stderr.writeSync(new TextEncoder().encode(logLine(
        "warning",
        `unable to add image label with key ${key} to the container`,
        new Error(`label key and value greater than maximum size`),
      ))),
    spec: ({ imageConfig, rootfs }) => specOpts(options, imageConfig, rootfs),
  });
  return container.record;
}
