/**
 * `berth ctr snapshots list|ls [--json]`, as ctr's table.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { goJSON, tabwrite } from "../../_format.ts";
import {
  infoJSON,
  kindName,
  listSnapshots,
  openSnapshots,
  snapshotterOf,
  SPACES,
  writeText,
} from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  snapshots.command("list").alias("ls")
    .description("list snapshots")
    .argument("[ignored...]")
    .option("--json", "print as JSON (the objects `info` prints)")
    .action(async (_ignored: string[], opts) => {
      const { client, signal } = openSnapshots(connect);
      const infos = await listSnapshots(
        client,
        signal,
        snapshotterOf(snapshots),
      );
      if (opts.json) {
        await writeText(goJSON(infos.map(infoJSON)) + "\n");
        return;
      }
      let text = "KEY\tPARENT\tKIND\t\n";
      for (const info of infos) {
        text += `${info.name}\t${info.parent}\t${kindName(info.kind)}\t\n`;
      }
      await writeText(tabwrite(text, SPACES));
    });
}
