/**
 * `berth ctr netns create`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { parseLabelArgs } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `netns` group. */
export function register(netns: Command, connect: () => Connection): void {
  netns.command("create").alias("c")
    .description("create a network namespace; prints its path")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, labels: string[]) => {
      const conn = connect();
      const { namespace } = await conn.client(Network).createNamespace(
        { namespace: { name, labels: parseLabelArgs(labels) } },
        { signal: conn.signal },
      );
      console.log(namespace!.path);
    });
}
