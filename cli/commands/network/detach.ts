/**
 * `berth ctr network detach`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `network` group. */
export function register(network: Command, connect: () => Connection): void {
  network.command("detach")
    .description("run CNI DEL for attachments and forget them")
    .argument("<ids...>")
    .action(async (ids: string[]) => {
      const conn = connect();
      for (const id of ids) {
        await conn.client(Network).detach({ id }, { signal: conn.signal });
        console.log(id);
      }
    });
}
