/**
 * `berth ctr network attach`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { formatLabels, parseLabelArgs } from "../../_format.ts";
import { parsePortMapping } from "../../_network.ts";
import type { Connection } from "../../_client.ts";

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  value,
];

/** Adds the command to `program`. */

/** Adds the command to the `network` group. */
export function register(network: Command, connect: () => Connection): void {
  network.command("attach")
    .description("attach a netns (name or path) to a network; prints the id")
    .argument("<netns>")
    .argument("[network]", "the network (default: the daemon's)")
    .option("--ifname <name>", "interface inside the netns")
    .option("--container <id>", "owning container")
    .option(
      "-p, --publish <HOST:CTR[/proto]>",
      "publish a port",
      collect,
      [],
    )
    .option("--label <KEY=VALUE>", "labels", collect, [])
    .option(
      "--arg <KEY=VALUE>",
      "a CNI_ARGS pair for the chain (ADD, CHECK and DEL)",
      collect,
      [],
    )
    .action(async (netns: string, name: string | undefined, opts) => {
      const conn = connect();
      const { attachment } = await conn.client(Network).attach({
        netns,
        network: name ?? "",
        interface: opts.ifname ?? "",
        containerId: opts.container ?? "",
        portMappings: opts.publish.map(parsePortMapping),
        labels: parseLabelArgs(opts.label),
        args: parseLabelArgs(opts.arg),
      }, { signal: conn.signal });
      console.log(attachment!.id);
      if (attachment!.ips.length) {
        console.log(formatLabels({ ips: attachment!.ips.join(",") }));
      }
    });
}
