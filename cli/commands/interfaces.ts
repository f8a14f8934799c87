/**
 * `berth ctr interfaces ls|add|set|rm`: network interfaces of a netns
 * through the Network service. NETNS is a berth netns name, a path, or
 * `host`.
 *
 * @module
 */
import type { Command } from "commander";
import {
  type Interface,
  Network,
} from "../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../_client.ts";
import { columns } from "../_format.ts";

const collect = (value: string, all: string[]) => [...all, value];

/** `CIDR[,via=GW]` as a route message. */
function parseRoute(text: string): { destination: string; gateway: string } {
  const [destination, ...options] = text.split(",");
  let gateway = "";
  for (const option of options) {
    const [key, value] = option.split("=", 2);
    if (key !== "via" || !value) {
      throw new Error(`route ${JSON.stringify(text)}: expected CIDR[,via=GW]`);
    }
    gateway = value;
  }
  return { destination, gateway };
}

function positiveInteger(what: string) {
  return (text: string) => {
    if (!/^[0-9]+$/.test(text)) {
      throw new Error(`${what} ${text}: not a number`);
    }
    return Number(text);
  };
}

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
export function interfacesCommand(
  program: Command,
  connect: () => Connection,
): void {
  const interfaces = program.command("interfaces").aliases([
    "interface",
    "if",
  ]).description("manage network interfaces of a network namespace");

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

  interfaces.command("add").alias("create")
    .description("create an interface NAME in NETNS")
    .argument("<netns>", "berth netns name, path, or host")
    .argument("<name>", "interface name (at most 15 bytes)")
    .requiredOption(
      "--type <type>",
      "veth, bridge, dummy, macvlan, ipvlan or vlan",
    )
    .option("--peer <name>", "veth: the peer's name")
    .option("--peer-netns <netns>", "veth: the peer's netns")
    .option("--parent <if>", "macvlan, ipvlan, vlan: the parent interface")
    .option("--vlan-id <id>", "vlan: the VLAN id", positiveInteger("vlan id"))
    .option("--mode <mode>", "macvlan or ipvlan mode")
    .option("--mtu <n>", "MTU", positiveInteger("MTU"))
    .option("--mac <mac>", "hardware address")
    .action(async (netns: string, name: string, opts) => {
      const conn = connect();
      await conn.client(Network).createInterface({
        netns,
        name,
        type: opts.type,
        peerName: opts.peer,
        peerNetns: opts.peerNetns,
        parent: opts.parent,
        vlanId: opts.vlanId,
        mode: opts.mode,
        mtu: opts.mtu,
        mac: opts.mac,
      }, { signal: conn.signal });
      console.log(name);
    });

  interfaces.command("set")
    .description("change the interface NAME in NETNS")
    .argument("<netns>", "berth netns name, path, or host")
    .argument("<name>")
    .option("--up", "set it up")
    .option("--down", "set it down")
    .option("--mtu <n>", "MTU", positiveInteger("MTU"))
    .option("--mac <mac>", "hardware address")
    .option("--rename <new>", "new name (the interface must be down)")
    .option("--master <bridge>", "enslave to a bridge (none: release)")
    .option("--move-to <netns>", "move to another netns (name, path, host)")
    .option("--add-address <cidr>", "add an address (repeatable)", collect, [])
    .option(
      "--del-address <cidr>",
      "remove an address (repeatable)",
      collect,
      [],
    )
    .option(
      "--add-route <route>",
      "add a route CIDR[,via=GW] (repeatable; CIDR may be default)",
      collect,
      [],
    )
    .option(
      "--del-route <route>",
      "remove a route CIDR[,via=GW] (repeatable)",
      collect,
      [],
    )
    .action(async (netns: string, name: string, opts) => {
      if (opts.up && opts.down) throw new Error("--up and --down conflict");
      const conn = connect();
      const { interface: link } = await conn.client(Network).updateInterface({
        netns,
        name,
        up: opts.up ? true : opts.down ? false : undefined,
        mtu: opts.mtu,
        mac: opts.mac,
        rename: opts.rename,
        master: opts.master,
        moveToNetns: opts.moveTo,
        addAddresses: opts.addAddress,
        delAddresses: opts.delAddress,
        addRoutes: opts.addRoute.map(parseRoute),
        delRoutes: opts.delRoute.map(parseRoute),
      }, { signal: conn.signal });
      console.log(link?.name ?? name);
    });

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
