/**
 * `berth ctr snapshots info KEY`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { goJSON } from "../../_format.ts";
import {
  infoJSON,
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
  snapshots.command("info")
    .description("get info about a snapshot")
    .usage("<key>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      if (args.length !== 1) {
        return await showHelp({
          usage: "get info about a snapshot",
          argsUsage: "<key>",
        }, "info");
      }
      const { client, signal } = openSnapshots(connect);
      const { info } = await client.stat(
        { snapshotter: snapshotterOf(snapshots), key: args[0] },
        { signal },
      );
      await writeText(goJSON(infoJSON(info!)) + "\n");
    });
}
