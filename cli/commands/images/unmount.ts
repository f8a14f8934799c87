/**
 * `berth ctr images unmount`.
 *
 * @module
 */
import type { Command } from "commander";
import { Leases } from "../../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { unmountAll } from "../../../src/client/mount.ts";
import { isNotFound } from "../../_images.ts";
import { DEFAULT_SNAPSHOTTER } from "../../../src/client/snapshots.ts";
import { print, snapshotterOption } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("unmount")
    .description("unmount the image from the target")
    .usage("[flags] <target>")
    .argument("[target]")
    .addOption(snapshotterOption())
    .option("--rm", "remove the snapshot after a successful unmount")
    .action(async (target: string | undefined, opts) => {
      if (!target) {
        throw new Error("please provide a target path to unmount from");
      }
      const conn = connect();
      await unmountAll(target);
      if (opts.rm) {
        const snapshotter = opts.snapshotter || DEFAULT_SNAPSHOTTER;
        try {
          await conn.client(Leases).delete({ id: target }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (!isNotFound(err)) {
            throw new Error(`error deleting lease: ${errorMessage(err)}`);
          }
        }
        try {
          await conn.client(Snapshots).remove({ snapshotter, key: target }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (!isNotFound(err)) {
            throw new Error(`error removing snapshot: ${errorMessage(err)}`);
          }
        }
      }
      print(`${target}\n`);
    });
}
