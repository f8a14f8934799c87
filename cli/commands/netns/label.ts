/**
 * `berth ctr netns label`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { parseLabelArgs } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `netns` group. */
export function register(netns: Command, connect: () => Connection): void {
  netns.command("label")
    .description("set and clear labels; an empty value clears")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, args: string[]) => {
      const conn = connect();
      const labels = parseLabelArgs(args);
      await conn.client(Network).updateNamespace({
        namespace: { name, labels },
        updateMask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
      }, { signal: conn.signal });
    });
}
