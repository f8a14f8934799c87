/**
 * Network attachments on a private copy of the default network (bridge,
 * host-local, portmap, firewall, loopback; conf dir, bridge, subnet and
 * lease dir all the bench's own):
 *
 * - attach + detach of one netns through the API (`Network.Attach` then
 *   `Network.Detach`), beside the floor: the same plugin chain run by hand
 *   (each binary exec'd with the CNI environment and its config on stdin,
 *   ADD in order, then DEL in reverse) on an `ip netns` namespace;
 * - {@linkcode CONCURRENT} netns attached at once: the wall time until all
 *   are attached (all addresses distinct, or the bench fails), the daemon's
 *   RSS then, and the time to detach them all.
 *
 * berth makes its own daemon for this (the shared one runs on the host's
 * default conf dir, which a bench must not write to); containerd has no
 * network API, so it has no column here.
 *
 * @module
 */
import { CoreClient } from "../src/client/core.ts";
import { Network } from "../src/gen/berth/services/network/v1/network_pb.ts";
import { type BenchOptions, type BenchResult, medians } from "./_bench.ts";
import { startBerth } from "./_daemons.ts";
import { procMB } from "./_side.ts";
import { unusedOctet } from "../tests/_network_config.ts";

/** The module's name for `deno task bench network`. */
export const name = "network";

/** Netns attached at once. */
export const CONCURRENT = 50;

/** Attach+detach samples per run. */
export const LATENCY_SAMPLES = 5;

const FLOOR = "plugins by hand";
const BIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"];

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 6);
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** Runs one plugin binary as a runtime would; its parsed stdout. */
async function plugin(
  type: string,
  env: Record<string, string>,
  config: unknown,
): Promise<unknown> {
  const child = new Deno.Command(`/usr/lib/cni/${type}`, {
    env: { ...env, CNI_PATH: BIN_DIRS.join(":") },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(config)));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${type} ${env.CNI_COMMAND}: ${text}`);
  return text.trim() ? JSON.parse(text) : undefined;
}

interface Conflist {
  name: string;
  cniVersion: string;
  plugins: { type: string; [key: string]: unknown }[];
}

/** ADD then DEL of `list` on the netns at `path`, by hand: the floor. */
async function chainByHand(list: Conflist, path: string, id: string) {
  const env = {
    CNI_CONTAINERID: id,
    CNI_NETNS: path,
    CNI_IFNAME: "eth0",
  };
  let result: unknown;
  for (const p of list.plugins) {
    const config = {
      ...p,
      name: list.name,
      cniVersion: list.cniVersion,
      ...(result ? { prevResult: result } : {}),
    };
    result = await plugin(p.type, { ...env, CNI_COMMAND: "ADD" }, config) ??
      result;
  }
  for (const p of [...list.plugins].reverse()) {
    await plugin(p.type, { ...env, CNI_COMMAND: "DEL" }, {
      ...p,
      name: list.name,
      cniVersion: list.cniVersion,
      prevResult: result,
    });
  }
}

/** Runs the bench. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const id = randomId();
  const bridge = `bbr${id}`;
  const octet = unusedOctet();
  const daemon = await startBerth((dir) =>
    [
      "[network]",
      `netns_dir = "${dir}/netns"`,
      `cni_conf_dir = "${dir}/cni-conf"`,
      `default_network = "bench${id}"`,
      `default_bridge = "${bridge}"`,
      `default_subnet = "10.${octet}.0.0/16"`,
    ].join("\n") + "\n"
  );
  const client = new CoreClient({ address: daemon.address, namespace: "bench" })
    .service(Network);
  const handNetns = `berth-bench-${id}`;
  const latency: Record<string, number[]> = { berth: [], [FLOOR]: [] };
  const concurrent: number[] = [];
  const detachAll: number[] = [];
  const rss: number[] = [];
  try {
    const { networks } = await client.listNetworks({});
    const list = JSON.parse(networks[0].config) as Conflist;
    await client.createNamespace({ namespace: { name: "one" } });
    await sh("ip", ["netns", "add", handNetns]);
    for (let r = 0; r < options.runs; r++) {
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        let started = performance.now();
        const { attachment } = await client.attach({ netns: "one" });
        await client.detach({ id: attachment!.id });
        latency.berth.push(performance.now() - started);
        started = performance.now();
        await chainByHand(list, `/run/netns/${handNetns}`, `hand${id}`);
        latency[FLOOR].push(performance.now() - started);
      }
      options.log(`network: run ${r + 1}: attach+detach sampled`);
      const names = Array.from({ length: CONCURRENT }, (_, i) => `c${r}-${i}`);
      for (const n of names) {
        await client.createNamespace({ namespace: { name: n } });
      }
      let started = performance.now();
      const attached = await Promise.all(
        names.map((n) => client.attach({ netns: n })),
      );
      concurrent.push(performance.now() - started);
      rss.push(await procMB(`/proc/${daemon.pid}/status`, "VmRSS"));
      const ips = new Set(attached.map((a) => a.attachment!.ips[0]));
      if (ips.size !== CONCURRENT) {
        throw new Error(`${CONCURRENT} attachments got ${ips.size} addresses`);
      }
      started = performance.now();
      await Promise.all(
        attached.map((a) => client.detach({ id: a.attachment!.id })),
      );
      detachAll.push(performance.now() - started);
      for (const n of names) await client.deleteNamespace({ name: n });
      options.log(`network: run ${r + 1}: ${CONCURRENT} concurrent done`);
    }
  } finally {
    await sh("ip", ["netns", "del", handNetns]).catch(() => {});
    // A stopped daemon leaves its netns mounted: only deleting one through
    // the API unmounts it.
    await client.deleteNamespace({ name: "one" }).catch(() => {});
    await daemon.stop();
    await sh("ip", ["link", "del", bridge]).catch(() => {});
  }
  const row = (
    operation: string,
    unit: string,
    runs: Record<string, number[]>,
  ) => ({
    operation,
    unit,
    higherIsBetter: false,
    runs,
    median: medians(runs),
  });
  return {
    bench: name,
    params: {
      runs: options.runs,
      samples: LATENCY_SAMPLES,
      concurrent: CONCURRENT,
      chain: "bridge,portmap,firewall,loopback",
    },
    rows: [
      row("attach+detach", "ms", latency),
      row(`attach ${CONCURRENT} at once`, "ms", { berth: concurrent }),
      row(`detach ${CONCURRENT} at once`, "ms", { berth: detachAll }),
      row(`daemon RSS with ${CONCURRENT} attached`, "MiB", { berth: rss }),
    ],
  };
}
