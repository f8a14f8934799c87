/**
 * The cost of one RPC on the daemon's socket, against berth and containerd
 * alike, through berth's client library on its lean transport
 * (`h2Transport`: messages framed straight on `node:http2`, none of
 * connect-es's protocol layer, so the daemon's time dominates; with
 * connect-node's transport the client, not the daemon, would set the pace):
 *
 * - {@linkcode CALLS} sequential unary calls of `Version.Version` and of
 *   `Containers.Get` (one container record made beforehand): the mean
 *   latency of one;
 * - the same calls with {@linkcode IN_FLIGHT} in flight at once: calls a
 *   second.
 *
 * The daemons take turns run by run, so drift in the machine's load falls
 * on both.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Version } from "../src/gen/containerd/services/version/v1/version_pb.ts";
import { CoreClient, h2Transport } from "../src/client/mod.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  median,
} from "./_bench.ts";
import type { BenchDaemon } from "./_daemons.ts";

/** This module's name, matched by `deno task bench FILTER`. */
export const name = "rpc";

/** Calls per run, daemon and method. */
export const CALLS = 2000;

/** Calls in flight at once in the throughput rows. */
export const IN_FLIGHT = 64;

const NAMESPACE = "bench";
const CONTAINER = "bench-rpc";

/** A unary method, called through the library. */
interface Call {
  /** Row label. */
  label: string;
  /** Makes one call; rejects unless the status is OK. */
  invoke(client: CoreClient): Promise<unknown>;
}

const CALL_KINDS: Call[] = [
  {
    label: "Version",
    invoke: (client) => client.service(Version).version({}),
  },
  {
    label: "Containers.Get",
    invoke: (client) => client.service(Containers).get({ id: CONTAINER }),
  },
];

/** A client of `daemon` in the bench namespace, on the lean transport. */
function clientOf(daemon: BenchDaemon): CoreClient {
  return new CoreClient({
    transport: h2Transport(daemon.address),
    namespace: NAMESPACE,
  });
}

/** Makes the container record `Containers.Get` reads. */
async function prepare(client: CoreClient): Promise<void> {
  await client.service(Containers).create({
    container: {
      id: CONTAINER,
      runtime: { name: "io.containerd.runc.v2" },
      spec: anyPack(StructSchema, create(StructSchema, {})),
    },
  });
}

/** Mean microseconds of one call, over `CALLS` made one after another. */
async function sequential(client: CoreClient, call: Call): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await call.invoke(client);
  return (performance.now() - started) * 1000 / CALLS;
}

/** Calls a second, `CALLS` made with `IN_FLIGHT` at once. */
async function concurrent(client: CoreClient, call: Call): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next++ < CALLS) await call.invoke(client);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return CALLS / ((performance.now() - started) / 1000);
}

/** Runs the RPC benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const rows: BenchRow[] = CALL_KINDS.flatMap((call) => [
    {
      operation: `${call.label} sequential`,
      unit: "µs/call",
      higherIsBetter: false,
      median: {},
      runs: {},
    },
    {
      operation: `${call.label} ${IN_FLIGHT} in flight`,
      unit: "calls/s",
      higherIsBetter: true,
      median: {},
      runs: {},
    },
  ]);
  const clients = new Map<string, CoreClient>();
  for (const daemon of options.daemons) {
    const client = clientOf(daemon);
    await prepare(client);
    clients.set(daemon.name, client);
    for (const row of rows) row.runs[daemon.name] = [];
  }
  // One warm-up round per daemon and method (connection, JIT, caches), not
  // counted.
  for (const client of clients.values()) {
    for (const call of CALL_KINDS) await sequential(client, call);
  }
  for (let i = 0; i < options.runs; i++) {
    for (const daemon of options.daemons) {
      const client = clients.get(daemon.name)!;
      const results: number[] = [];
      for (const call of CALL_KINDS) {
        results.push(await sequential(client, call));
        results.push(await concurrent(client, call));
      }
      results.forEach((value, j) => rows[j].runs[daemon.name].push(value));
      options.log(
        `rpc: ${daemon.name} run ${i + 1}/${options.runs}: ${
          rows.map((row, j) => `${row.operation} ${results[j].toFixed(0)}`)
            .join(", ")
        }`,
      );
    }
  }
  for (const row of rows) {
    for (const [side, values] of Object.entries(row.runs)) {
      row.median[side] = median(values);
    }
  }
  return {
    bench: name,
    params: { calls: CALLS, inFlight: IN_FLIGHT, runs: options.runs },
    rows,
  };
}
