/**
 * `berth ctr images mount`.
 *
 * @module
 */
import type { Command } from "commander";
import { Image } from "../../../src/client/image.ts";
import { LABEL_GC_REF_SNAPSHOT } from "../../../src/images/labels.ts";
import { Images } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import { Leases } from "../../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../../../src/gen/containerd/types/mount_pb.ts";
import {
  formatPlatform,
  hostPlatform,
  onlyPlatform,
  parsePlatform,
  type Platform,
} from "../../../src/types/platform.ts";
import type { Connection } from "../../_client.ts";
import { Code, errorMessage, hasCode } from "../../../src/client/errors.ts";
import { mountAll } from "../../../src/client/mount.ts";
import { isNotFound } from "../../_images.ts";
import { LEASE_HEADER } from "../../../src/client/core.ts";
import { expiresInADay } from "../../_leases.ts";
import { DEFAULT_SNAPSHOTTER } from "../../../src/client/snapshots.ts";
import { print, snapshotterOption } from "../../_images_commands.ts";

/**
 * `images mount`, in ctr's steps: a lease named after the target (24 h,
 * holding the snapshot), the image unpacked, a view (or, with `rw`, an
 * active snapshot) keyed by the target on the rootfs chain, and its
 * mounts made on the target by `mount(8)`.
 */
async function mountImage(
  conn: Connection,
  ref: string,
  target: string,
  opts: { snapshotter: string; rw: boolean; platform: string },
): Promise<void> {
  const { signal } = conn;
  const { snapshotter } = opts;
  const leases = conn.client(Leases);
  let created = false;
  try {
    await leases.create({
      id: target,
      labels: {
        ...expiresInADay(),
        [LABEL_GC_REF_SNAPSHOT + snapshotter]: target,
      },
    }, { signal });
    created = true;
  } catch (err) {
    if (!hasCode(err, Code.AlreadyExists)) {
      throw err;
    }
  }
  const leased = { signal, headers: { [LEASE_HEADER]: target } };
  try {
    let platform: Platform;
    try {
      platform = parsePlatform(opts.platform);
    } catch (err) {
      throw new Error(
        `unable to parse platform ${opts.platform}: ${errorMessage(err)}`,
      );
    }
    const { image } = await conn.client(Images).get({ name: ref }, { signal });
    let chain: string;
    try {
      chain = await new Image(conn.api.with({ lease: target }), image!).unpack(
        snapshotter,
        { platform: onlyPlatform(platform) },
      );
    } catch (err) {
      throw new Error(`error unpacking image: ${errorMessage(err)}`);
    }
    print(`${chain}\n`);
    const snapshots = conn.client(Snapshots);
    const request = { snapshotter, key: target, parent: chain };
    let mounts: Mount[];
    try {
      mounts = (opts.rw
        ? await snapshots.prepare(request, leased)
        : await snapshots.view(request, leased)).mounts;
    } catch (err) {
      if (!hasCode(err, Code.AlreadyExists)) {
        throw err;
      }
      mounts = (await snapshots.mounts({ snapshotter, key: target }, leased))
        .mounts;
    }
    try {
      await mountAll(mounts, target);
    } catch (err) {
      try {
        await snapshots.remove({ snapshotter, key: target }, { signal });
      } catch (cleanup) {
        if (!isNotFound(cleanup)) {
          console.error(
            "Error cleaning up snapshot after mount error:",
            errorMessage(cleanup),
          );
        }
      }
      throw err;
    }
    print(`${target}\n`);
  } catch (err) {
    if (created) {
      await leases.delete({ id: target }, { signal }).catch(() => {});
    }
    throw err;
  }
}

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("mount")
    .description("mount an image to a target path")
    .usage("[flags] <ref> <target>")
    .argument("[ref]")
    .argument("[target]")
    .addOption(snapshotterOption())
    .option("--rw", "enable write support on the mount")
    .option(
      "--platform <platform>",
      "mount the image for the specified platform",
      formatPlatform(hostPlatform()),
    )
    .action(
      async (ref: string | undefined, target: string | undefined, opts) => {
        if (!ref) throw new Error("please provide an image reference to mount");
        if (!target) {
          throw new Error("please provide a target path to mount to");
        }
        const conn = connect();
        await mountImage(conn, ref, target, {
          snapshotter: opts.snapshotter || DEFAULT_SNAPSHOTTER,
          rw: Boolean(opts.rw),
          platform: opts.platform,
        });
      },
    );
}
