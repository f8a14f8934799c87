/**
 * `berth ctr leases delete|rm [--sync] ID…`: leases removed; prints each.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { Leases } from "../../../src/gen/containerd/services/leases/v1/leases_pb.ts";

/** Adds the command to the `leases` group. */
export function register(leases: Command, connect: () => Connection): void {
  leases.command("delete").aliases(["del", "remove", "rm"])
    .description("delete one or more leases; prints each one deleted")
    .argument("<ids...>")
    .option(
      "--sync",
      "synchronously remove leases and all unreferenced resources",
    )
    .action(async (ids: string[], opts) => {
      const conn = connect();
      for (const [i, id] of ids.entries()) {
        // As ctr: only the last delete waits for the collection, which
        // then covers the resources of every lease before it.
        await conn.api.service(Leases).delete({
          id,
          sync: Boolean(opts.sync) && i === ids.length - 1,
        });
        console.log(id);
      }
    });
}
