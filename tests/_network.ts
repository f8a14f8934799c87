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
import {
  networkConfig,
  type NetworkConfigOptions,
  type TestNetwork,
} from "./_network_config.ts";

export {
  networkConfig,
  type TestNetwork,
  unusedOctet,
} from "./_network_config.ts";

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

/** A port nothing listens on now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Calls a Network RPC with Connect/JSON (curl); the parsed answer. For the
 * tests of that protocol path: other calls go through the client library.
 */
export async function callNetwork(
  daemon: TestDaemon,
  method: string,
  body: unknown,
  namespace: string = daemon.namespace,
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
 * Runs `fn` on a daemon with busybox and its own network world (as
 * `options` say); afterwards removes every container and the bridge,
 * whatever happened.
 */
export async function withNetworkDaemon(
  fn: (
    daemon: TestDaemon,
    net: TestNetwork,
    restart: () => Promise<TestDaemon>,
  ) => Promise<void>,
  options: NetworkConfigOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  const { config, net } = networkConfig(dir, options);
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
