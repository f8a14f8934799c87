/**
 * `berth ctr containers delete|rm [--keep-snapshot] CONTAINER…`: records removed, with their snapshots unless kept, as ctr does client-side.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { log } from "../../_log.ts";

/** Adds the command to the `containers` group. */
export function register(
  containers: Command,
  connect: () => Connection,
): void {
  containers.command("delete").aliases(["del", "remove", "rm"])
    .description("delete one or more existing containers")
    .usage("[flags] CONTAINER [CONTAINER, ...]")
    .argument("[ids...]")
    .option("--keep-snapshot", "do not clean up snapshot with container")
    .action(async (ids: string[], opts) => {
      if (ids.length === 0) {
        throw new Error(
          "must specify at least one container to delete: invalid argument",
        );
      }
      const conn = connect();
      let failure: unknown;
      for (const id of ids) {
        try {
          const container = await conn.api.loadContainer(id);
          await container.delete({ snapshotCleanup: !opts.keepSnapshot });
        } catch (err) {
          failure ??= err;
          log("error", `failed to delete container "${id}"`, err);
        }
      }
      if (failure) throw failure;
    });
}
