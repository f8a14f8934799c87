/**
 * `berth ctr snapshots delete|rm KEY…`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { goQuote } from "../../_format.ts";
import { openSnapshots, snapshotterOf } from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  snapshots.command("delete").aliases(["del", "remove", "rm"])
    .description("remove snapshots")
    .usage("<key> [<key>, ...]")
    .argument("[keys...]")
    .action(async (keys: string[]) => {
      const { client, signal } = openSnapshots(connect);
      for (const key of keys) {
        try {
          await client.remove({ snapshotter: snapshotterOf(snapshots), key }, {
            signal,
          });
        } catch (err) {
          throw new Error(
            `failed to remove ${goQuote(key)}: ${errorMessage(err)}`,
            { cause: err },
          );
        }
      }
    });
}
