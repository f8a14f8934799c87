/**
 * `berth ctr interfaces add`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { positiveInteger } from "../../_interfaces.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `interfaces` group. */
export function register(interfaces: Command, connect: () => Connection): void {
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
}
