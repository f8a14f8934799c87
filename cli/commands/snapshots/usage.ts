/**
 * `berth ctr snapshots usage [-b] [KEY…]`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { progressBytes, tabwrite } from "../../_format.ts";
import {
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
  snapshots.command("usage")
    .description("usage snapshots; all of them without a key")
    .usage("[flags] [<key>, ...]")
    .argument("[keys...]")
    .option("-b", "display size in bytes")
    .action(async (keys: string[], opts) => {
      const size = (bytes: bigint) =>
        opts.b ? String(bytes) : progressBytes(bytes);
      const { client, signal } = openSnapshots(connect);
      const usageOf = (key: string) =>
        client.usage({ snapshotter: snapshotterOf(snapshots), key }, {
          signal,
        });
      // As ctr's, the table is printed only once every usage was read.
      let text = "KEY\tSIZE\tINODES\t\n";
      const names = keys.length
        ? keys
        : (await listSnapshots(client, signal, snapshotterOf(snapshots))).map((
          i,
        ) => i.name);
      for (const key of names) {
        const usage = await usageOf(key);
        text += `${key}\t${size(usage.size)}\t${usage.inodes}\t\n`;
      }
      await writeText(tabwrite(text, SPACES));
    });
}
