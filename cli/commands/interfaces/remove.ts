/**
 * `berth ctr interfaces remove`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `interfaces` group. */
export function register(interfaces: Command, connect: () => Connection): void {
  interfaces.command("remove").aliases(["rm", "delete", "del"])
    .description("delete interfaces of NETNS (a veth takes its peer along)")
    .argument("<netns>", "berth netns name, path, or host")
    .argument("<names...>")
    .action(async (netns: string, names: string[]) => {
      const conn = connect();
      for (const name of names) {
        await conn.client(Network).deleteInterface({ netns, name }, {
          signal: conn.signal,
        });
        console.log(name);
      }
    });
}
