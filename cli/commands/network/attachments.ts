/**
 * `berth ctr network attachments`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { columns } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `network` group. */
export function register(network: Command, connect: () => Connection): void {
  network.command("attachments").alias("a")
    .description("list attachments")
    .argument("[filters...]", "containerd filters, any one matching")
    .option("-q, --quiet", "print only the id")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const { attachments } = await conn.client(Network).listAttachments(
        { filters },
        { signal: conn.signal },
      );
      if (opts.json) {
        console.log(JSON.stringify(
          attachments.map((a) => ({
            id: a.id,
            network: a.network,
            netns: a.netns,
            netnsPath: a.netnsPath,
            interface: a.interface,
            containerId: a.containerId,
            ips: a.ips,
            state: a.state,
            portMappings: a.portMappings.map((p) => ({
              hostPort: p.hostPort,
              containerPort: p.containerPort,
              protocol: p.protocol,
              hostIP: p.hostIp,
            })),
            labels: a.labels,
            args: a.args,
            result: JSON.parse(a.result || "null"),
          })),
          null,
          2,
        ));
      } else if (opts.quiet) {
        for (const a of attachments) console.log(a.id);
      } else {
        console.log(columns([
          [
            "ID",
            "NETWORK",
            "NETNS",
            "INTERFACE",
            "IPS",
            "PORTS",
            "CONTAINER",
            "STATE",
          ],
          ...attachments.map((a) => [
            a.id,
            a.network,
            a.netns || a.netnsPath,
            a.interface,
            a.ips.join(",") || "-",
            a.portMappings.map((p) =>
              `${p.hostPort}:${p.containerPort}/${p.protocol}`
            ).join(",") || "-",
            a.containerId || "-",
            a.state,
          ]),
        ]));
      }
    });
}
