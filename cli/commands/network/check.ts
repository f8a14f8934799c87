/**
 * `berth ctr network check`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `network` group. */
export function register(network: Command, connect: () => Connection): void {
  network.command("check")
    .description("run CNI CHECK for attachments")
    .argument("<ids...>")
    .action(async (ids: string[]) => {
      const conn = connect();
      for (const id of ids) {
        await conn.client(Network).check({ id }, { signal: conn.signal });
      }
    });
}
