/**
 * The default network, written to the conf dir on first use when the dir
 * holds no configuration: a bridge with host-local IPAM on a private /16,
 * published ports through portmap, the firewall plugin's forwarding rules,
 * and loopback.
 *
 * @module
 */

/** What the default network is made of. */
export interface DefaultNetworkOptions {
  /** The network's name (`berth`). */
  name: string;
  /** The bridge (`berth0`). */
  bridge: string;
  /** The IPv4 subnet (`10.222.0.0/16`). */
  subnet: string;
  /** host-local's lease directory. */
  ipamDataDir: string;
}

/** The default network's conflist text. */
export function defaultNetworkConflist(options: DefaultNetworkOptions): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: options.name,
      plugins: [
        {
          type: "bridge",
          bridge: options.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: options.subnet }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: options.ipamDataDir,
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "firewall" },
        { type: "loopback" },
      ],
    },
    null,
    2,
  ) + "\n";
}
