/**
 * `berth ctr interfaces set`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { positiveInteger } from "../../_interfaces.ts";
import type { Connection } from "../../_client.ts";

const collect = (value: string, all: string[]) => [...all, value];

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

/** Adds the command to the `interfaces` group. */
export function register(interfaces: Command, connect: () => Connection): void {
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
}
