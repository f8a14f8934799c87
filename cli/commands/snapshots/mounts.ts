/**
 * `berth ctr snapshots mounts TARGET KEY`: the mount commands of a snapshot.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import {
  mountCommands,
  openSnapshots,
  showHelp,
  snapshotterOf,
  writeText,
} from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  snapshots.command("mounts").aliases(["m", "mount"])
    .description("mount gets mount commands for the snapshots")
    .usage("<target> <key>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      const usage = "mount gets mount commands for the snapshots";
      if (args.length !== 2) {
        return await showHelp({ usage, argsUsage: "<target> <key>" }, "mounts");
      }
      const [target, key] = args;
      const { client, signal } = openSnapshots(connect);
      const { mounts } = await client.mounts(
        { snapshotter: snapshotterOf(snapshots), key },
        { signal },
      );
      await writeText(mountCommands(target, mounts));
    });
}
