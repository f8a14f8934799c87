/**
 * `berth ctr network ls|attachments|attach|check|detach`: CNI networks and
 * the attachments of network namespaces to them.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../_client.ts";
import { columns, formatLabels, parseLabelArgs } from "../_format.ts";
import { parsePortMapping } from "../_network.ts";

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  value,
];

/** Adds the command to `program`. */
export function networkCommand(
  program: Command,
  connect: () => Connection,
): void {
  const network = program.command("network").aliases(["networks", "net"])
    .description("CNI networks and attachments");

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
    .action(async (netns: string, name: string | undefined, opts) => {
      const conn = connect();
      const { attachment } = await conn.client(Network).attach({
        netns,
        network: name ?? "",
        interface: opts.ifname ?? "",
        containerId: opts.container ?? "",
        portMappings: opts.publish.map(parsePortMapping),
        labels: parseLabelArgs(opts.label),
      }, { signal: conn.signal });
      console.log(attachment!.id);
      if (attachment!.ips.length) {
        console.log(formatLabels({ ips: attachment!.ips.join(",") }));
      }
    });

  network.command("check")
    .description("run CNI CHECK for attachments")
    .argument("<ids...>")
    .action(async (ids: string[]) => {
      const conn = connect();
      for (const id of ids) {
        await conn.client(Network).check({ id }, { signal: conn.signal });
      }
    });

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
