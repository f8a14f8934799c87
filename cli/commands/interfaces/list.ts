/**
 * `berth ctr interfaces list`.
 *
 * @module
 */
import type { Command } from "commander";
import {
  type Interface,
  Network,
} from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { columns } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

function toJSON(link: Interface) {
  return {
    index: link.index,
    name: link.name,
    type: link.type,
    mtu: link.mtu,
    mac: link.mac,
    up: link.up,
    oper_state: link.operState,
    master: link.master,
    link_index: link.linkIndex,
    vlan_id: link.vlanId,
    mode: link.mode,
    addresses: link.addresses.map((a) => ({ cidr: a.cidr, scope: a.scope })),
    routes: link.routes.map((r) => ({
      destination: r.destination,
      gateway: r.gateway,
      device: r.device,
      metric: r.metric,
      scope: r.scope,
      source: r.source,
    })),
  };
}

/** Adds the command to `program`. */

/** Adds the command to the `interfaces` group. */
export function register(interfaces: Command, connect: () => Connection): void {
  interfaces.command("list").alias("ls")
    .description("list the interfaces of NETNS with addresses and routes")
    .argument("<netns>", "berth netns name, path, or host")
    .option("-q, --quiet", "print only the interface names")
    .option("--json", "print as JSON")
    .action(async (netns: string, opts) => {
      const conn = connect();
      const { interfaces: links } = await conn.client(Network).listInterfaces(
        { netns },
        { signal: conn.signal },
      );
      if (opts.json) {
        console.log(JSON.stringify(links.map(toJSON), null, 2));
      } else if (opts.quiet) {
        for (const link of links) console.log(link.name);
      } else {
        console.log(columns([
          [
            "INDEX",
            "NAME",
            "TYPE",
            "STATE",
            "MTU",
            "MAC",
            "MASTER",
            "ADDRESSES",
          ],
          ...links.map((link) => [
            String(link.index),
            link.name,
            link.type,
            link.up ? link.operState : "down",
            String(link.mtu),
            link.mac || "-",
            link.master || "-",
            link.addresses.map((a) => a.cidr).join(",") || "-",
          ]),
        ]));
      }
    });
}
