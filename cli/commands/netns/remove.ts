/**
 * `berth ctr netns remove`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `netns` group. */
export function register(netns: Command, connect: () => Connection): void {
  netns.command("remove").alias("rm")
    .description("remove network namespaces (refused while in use)")
    .argument("<names...>")
    .option("-f, --force", "remove even while in use (detaches attachments)")
    .action(async (names: string[], opts) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const name of names) {
        try {
          await conn.client(Network).deleteNamespace(
            { name, force: Boolean(opts.force) },
            { signal: conn.signal },
          );
          console.log(name);
        } catch (err) {
          const message = `unable to delete ${name}: ${(err as Error).message}`;
          console.error(message);
          failure ??= new Error(message);
        }
      }
      if (failure) throw failure;
    });
}
