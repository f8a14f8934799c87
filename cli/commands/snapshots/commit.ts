/**
 * `berth ctr snapshots commit NAME KEY`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import {
  GC_ROOT_LABEL,
  gcRootNow,
  openSnapshots,
  showHelp,
  snapshotterOf,
} from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  snapshots.command("commit")
    .description("commit an active snapshot into the provided name")
    .usage("<key> <active>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      const usage = "commit an active snapshot into the provided name";
      if (args.length !== 2) {
        return await showHelp({ usage, argsUsage: "<key> <active>" }, "commit");
      }
      const [name, key] = args;
      const { client, signal } = openSnapshots(connect);
      await client.commit({
        snapshotter: snapshotterOf(snapshots),
        name,
        key,
        labels: { [GC_ROOT_LABEL]: gcRootNow() },
      }, { signal });
    });
}
