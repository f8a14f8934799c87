/**
 * `berth ctr snapshots tree`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import {
  listSnapshots,
  openSnapshots,
  snapshotterOf,
  snapshotTree,
  writeText,
} from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  snapshots.command("tree")
    .description("display tree view of snapshot branches")
    .argument("[ignored...]")
    .action(async () => {
      const { client, signal } = openSnapshots(connect);
      await writeText(
        snapshotTree(
          await listSnapshots(client, signal, snapshotterOf(snapshots)),
        ),
      );
    });
}
