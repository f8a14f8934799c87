/**
 * A test daemon's private network world: its own CNI conf dir, default
 * network name, bridge, subnet (a 10.N/16 no host route uses), lease and
 * netns directories, and a plugin dir of its own if asked — never the
 * host's defaults.
 *
 * @module
 */
import { join } from "node:path";

/** The test's network settings. */
export interface TestNetwork {
  /** The default network's name. */
  name: string;
  /** Its bridge. */
  bridge: string;
  /** Its subnet's first two octets (`10.N`). */
  prefix: string;
  /** The CNI conf dir. */
  confDir: string;
  /** The netns dir. */
  netnsDir: string;
  /** host-local's data dir for the default network. */
  ipamDir: string;
  /**
   * A plugin dir searched before the installed ones, when the config asks
   * for test plugins.
   */
  binDir: string;
}

/** Options for {@linkcode networkConfig}. */
export interface NetworkConfigOptions {
  /** Search {@linkcode TestNetwork.binDir} for plugins first. */
  testPlugins?: boolean;
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 6);
}

/** A second octet N whose 10.N.0.0/16 no route of the host uses now. */
export function unusedOctet(): number {
  const routes = new TextDecoder().decode(
    new Deno.Command("ip", { args: ["-4", "route"] }).outputSync().stdout,
  );
  const used = new Set(
    [...routes.matchAll(/\b10\.(\d+)\./g)].map((m) => Number(m[1])),
  );
  for (;;) {
    const octet = 100 + Math.floor(Math.random() * 150);
    if (!used.has(octet)) return octet;
  }
}

/** The config of a daemon in `dir` with its own network world. */
export function networkConfig(
  dir: string,
  options: NetworkConfigOptions = {},
): { config: string; net: TestNetwork } {
  const id = randomId();
  const octet = unusedOctet();
  const net: TestNetwork = {
    name: `bt${id}`,
    bridge: `btbr${id}`,
    prefix: `10.${octet}`,
    confDir: join(dir, "cni-conf"),
    netnsDir: join(dir, "netns"),
    ipamDir: join(dir, "cni-cache", "networks", `bt${id}`),
    binDir: join(dir, "cni-bin"),
  };
  const pluginDirs =
    `cni_bin_dirs = ["${net.binDir}", "/usr/lib/cni", "/opt/cni/bin"]\n`;
  const config = `[network]
netns_dir = "${net.netnsDir}"
cni_conf_dir = "${net.confDir}"
cni_cache_dir = "${join(dir, "cni-cache")}"
${options.testPlugins ? pluginDirs : ""}plugin_timeout = "30s"
default_network = "${net.name}"
default_bridge = "${net.bridge}"
default_subnet = "${net.prefix}.0.0/16"
`;
  return { config, net };
}
