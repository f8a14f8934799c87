/**
 * Network tests' private world: a daemon whose conf dir, default network
 * name, bridge, subnet, host-local data dir, cache and netns dir are the
 * test's own (never the host's defaults), and checks that nothing of it is
 * left: veths on the bridge, leases, portmap rules, netns files or mounts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { run, startDaemon, type TestDaemon } from "./_harness.ts";
import {
  prepareBusybox,
  reapShimsAndRunc,
  removeAllContainers,
} from "./_containers.ts";
import { readMountInfo } from "../src/mount/mountinfo.ts";

/** Kills and removes container `id` with berth ctr or the real ctr. */
export async function removeContainer(
  daemon: TestDaemon,
  id: string,
  client: "berth" | "ctr" = "berth",
): Promise<void> {
  const cli = client === "berth" ? daemon.berth : daemon.ctr;
  await cli(["tasks", "kill", "-s", "SIGKILL", id]);
  const tasks = await cli(["tasks", "rm", "-f", id]);
  assert.equal(tasks.code, 0, tasks.stderr);
  const containers = await cli(["containers", "rm", id]);
  assert.equal(containers.code, 0, containers.stderr);
}

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

/** A port nothing listens on now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The config of a daemon in `dir` with its own network world. */
export function networkConfig(
  dir: string,
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
  };
  const config = `[network]
netns_dir = "${net.netnsDir}"
cni_conf_dir = "${net.confDir}"
cni_cache_dir = "${join(dir, "cni-cache")}"
plugin_timeout = "30s"
default_network = "${net.name}"
default_bridge = "${net.bridge}"
default_subnet = "${net.prefix}.0.0/16"
`;
  return { config, net };
}

/** Calls a Network RPC with Connect/JSON; the parsed answer. */
export async function callNetwork(
  daemon: TestDaemon,
  method: string,
  body: unknown,
  namespace = "default",
): Promise<{ code?: string; message?: string; [key: string]: unknown }> {
  const r = await run("curl", [
    "-sS",
    "--unix-socket",
    daemon.address,
    "-H",
    "content-type: application/json",
    "-H",
    `containerd-namespace: ${namespace}`,
    "-d",
    JSON.stringify(body),
    `http://localhost/berth.services.network.v1.Network/${method}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** What of the network world is still there (empty when clean). */
export async function networkLeftovers(
  net: TestNetwork,
  ports: readonly number[] = [],
): Promise<string[]> {
  const left: string[] = [];
  const links = await run("ip", ["-o", "link", "show", "master", net.bridge]);
  if (links.code === 0 && links.stdout.trim()) {
    left.push(`veths on ${net.bridge}: ${links.stdout.trim()}`);
  }
  try {
    for await (const entry of Deno.readDir(net.ipamDir)) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(entry.name)) {
        left.push(`lease ${entry.name}`);
      }
    }
  } catch { /* no leases ever */ }
  const rules = (await run("iptables-save", ["-t", "nat"])).stdout;
  for (const port of ports) {
    if (new RegExp(`--dport ${port}\\b`).test(rules)) {
      left.push(`portmap rule for ${port}`);
    }
  }
  const files: string[] = [];
  async function walk(dir: string) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory) await walk(path);
        else files.push(path);
      }
    } catch { /* none */ }
  }
  await walk(net.netnsDir);
  if (files.length) left.push(`netns files: ${files.join(", ")}`);
  const mounts = readMountInfo().map((m) => m.mountPoint).filter((p) =>
    p.startsWith(net.netnsDir)
  );
  if (mounts.length) left.push(`netns mounts: ${mounts.join(", ")}`);
  return left;
}

/**
 * Runs `fn` on a daemon with busybox and its own network world; afterwards
 * removes every container and the bridge, whatever happened.
 */
export async function withNetworkDaemon(
  fn: (
    daemon: TestDaemon,
    net: TestNetwork,
    restart: () => Promise<TestDaemon>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  const { config, net } = networkConfig(dir);
  let daemon = await startDaemon({ dir, config });
  const restart = async () => {
    daemon.process.kill("SIGKILL");
    await daemon.process.status;
    daemon = await startDaemon({ dir, config });
    return daemon;
  };
  try {
    await prepareBusybox(daemon);
    await fn(daemon, net, restart);
  } finally {
    await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
    await daemon[Symbol.asyncDispose]();
    await run("ip", ["link", "del", net.bridge]);
  }
}
