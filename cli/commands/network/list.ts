/**
 * `berth ctr network list`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { columns } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `network` group. */
export function register(network: Command, connect: () => Connection): void {
  network.command("list").alias("ls")
    .description("list the CNI networks of the daemon's conf dir")
    .option("-q, --quiet", "print only the name")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const conn = connect();
      const { networks } = await conn.client(Network).listNetworks({}, {
        signal: conn.signal,
      });
      if (opts.json) {
        console.log(JSON.stringify(
          networks.map((n) => ({ ...JSON.parse(n.config), source: n.source })),
          null,
          2,
        ));
      } else if (opts.quiet) {
        for (const n of networks) console.log(n.name);
      } else {
        console.log(columns([
          ["NAME", "VERSION", "PLUGINS", "CAPABILITIES", "SOURCE"],
          ...networks.map((n) => [
            n.name,
            n.cniVersion,
            n.plugins.join(","),
            n.capabilities.join(",") || "-",
            n.source,
          ]),
        ]));
      }
    });
}
