/**
 * The cost of one RPC on the daemon's socket, against berth and containerd
 * alike, through one lean HTTP/2 client (requests encoded once, no client
 * library in the loop, so the daemon's time dominates):
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
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Buffer } from "node:buffer";
import type * as http2 from "node:http2";
import * as net from "node:net";
import {
  Containers,
  GetContainerRequestSchema,
} from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  median,
} from "./_bench.ts";
import type { BenchDaemon } from "./_daemons.ts";
import { connectH2 as connect, grpcFrame, unaryCall } from "../tests/_h2.ts";

/** This module's name, matched by `deno task bench FILTER`. */
export const name = "rpc";

/** Calls per run, daemon and method. */
export const CALLS = 2000;

/** Calls in flight at once in the throughput rows. */
export const IN_FLIGHT = 64;

const NAMESPACE = "bench";
const CONTAINER = "bench-rpc";

/** A unary method and its request, encoded once as a gRPC frame. */
interface Call {
  /** Row label. */
  label: string;
  /** `/package.Service/Method`. */
  path: string;
  /** The length-prefixed request message. */
  frame: Buffer;
}

const CALL_KINDS: Call[] = [
  {
    label: "Version",
    path: "/containerd.services.version.v1.Version/Version",
    frame: grpcFrame(new Uint8Array()),
  },
  {
    label: "Containers.Get",
    path: "/containerd.services.containers.v1.Containers/Get",
    frame: grpcFrame(
      toBinary(
        GetContainerRequestSchema,
        create(GetContainerRequestSchema, { id: CONTAINER }),
      ),
    ),
  },
];

/** One unary call; rejects unless the status is OK. */
async function unary(session: http2.ClientHttp2Session, call: Call) {
  const result = await unaryCall(session, call.path, call.frame, {
    "containerd-namespace": NAMESPACE,
  });
  if (result.status !== 0) {
    throw new Error(
      `${call.path}: grpc-status ${result.status} ${result.message}`,
    );
  }
}

/** Makes the container record `Containers.Get` reads. */
async function prepare(daemon: BenchDaemon): Promise<void> {
  const client = createClient(
    Containers,
    createGrpcTransport({
      baseUrl: "http://localhost",
      nodeOptions: { createConnection: () => net.connect(daemon.address) },
      interceptors: [(next) => (req) => {
        req.header.set("containerd-namespace", NAMESPACE);
        return next(req);
      }],
    }),
  );
  await client.create({
    container: {
      id: CONTAINER,
      runtime: { name: "io.containerd.runc.v2" },
      spec: anyPack(StructSchema, create(StructSchema, {})),
    },
  });
}

/** Mean microseconds of one call, over `CALLS` made one after another. */
async function sequential(
  session: http2.ClientHttp2Session,
  call: Call,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await unary(session, call);
  return (performance.now() - started) * 1000 / CALLS;
}

/** Calls a second, `CALLS` made with `IN_FLIGHT` at once. */
async function concurrent(
  session: http2.ClientHttp2Session,
  call: Call,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next++ < CALLS) await unary(session, call);
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
  const sessions = new Map<string, http2.ClientHttp2Session>();
  try {
    for (const daemon of options.daemons) {
      await prepare(daemon);
      sessions.set(daemon.name, await connect(daemon.address));
      for (const row of rows) row.runs[daemon.name] = [];
    }
    // One warm-up round per daemon and method (JIT, caches), not counted.
    for (const session of sessions.values()) {
      for (const call of CALL_KINDS) await sequential(session, call);
    }
    for (let i = 0; i < options.runs; i++) {
      for (const daemon of options.daemons) {
        const session = sessions.get(daemon.name)!;
        const results: number[] = [];
        for (const call of CALL_KINDS) {
          results.push(await sequential(session, call));
          results.push(await concurrent(session, call));
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
  } finally {
    for (const session of sessions.values()) session.close();
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
