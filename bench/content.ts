/**
 * Content store throughput: the real `ctr content ingest` (a blob from a
 * file on stdin) and `ctr content get > /dev/null`, against berth and
 * containerd, a few runs each, the daemons taking turns run by run (so
 * drift in the machine's load falls on both); the median in MB/s (10^6
 * bytes a second).
 *
 * As a real client would, the bench holds the blob with a lease for the
 * whole run: otherwise the collector may take it between the ingest and
 * the get (NotFound). ctr takes no lease from its caller, so the lease
 * names the blob beforehand (`Leases.AddResource`), which holds it from
 * its commit on, on either daemon.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { CoreClient, createLease, h2Transport } from "../src/client/mod.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  median,
} from "./_bench.ts";
import type { BenchDaemon } from "./_daemons.ts";

/** This module's name, matched by `deno task bench FILTER`. */
export const name = "content";

/** Bytes of the blob. */
export const BLOB_SIZE = 200_000_000;

const CHUNK = 1 << 20;

/** Writes `size` random bytes to `path`; returns their sha256 digest. */
async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  for (let left = size; left > 0; left -= CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, left));
    hash.update(chunk);
    let data: Uint8Array = chunk;
    while (data.length) data = data.subarray(await file.write(data));
  }
  return `sha256:${hash.digest("hex")}`;
}

/** Runs `ctr ARGS…` with stdin and stdout from fds; resolves with its stderr. */
function ctr(
  args: string[],
  stdin: number | "ignore" = "ignore",
  stdout: number | "ignore" = "ignore",
): Promise<{ code: number; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn("ctr", args, { stdio: [stdin, stdout, "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => stderr += text);
    child.once("error", reject);
    child.once(
      "close",
      (code) =>
        resolve({ code: code ?? 1, stderr, ms: performance.now() - start }),
    );
  });
}

/** How long the collector may take to remove a deleted blob from disk. */
const REMOVAL_TIMEOUT_MS = 30_000;

/** The namespace ctr uses when given none. */
const NAMESPACE = "default";

/**
 * Holds `digest` on `daemon` with a new lease in ctr's namespace; returns
 * what lets it go.
 */
async function holdBlob(
  daemon: BenchDaemon,
  digest: string,
): Promise<() => Promise<void>> {
  const client = new CoreClient({
    transport: h2Transport(daemon.address),
    namespace: NAMESPACE,
  });
  const id = await createLease(client, { id: `bench-content-${Date.now()}` });
  const leases = client.service(Leases);
  await leases.addResource({ id, resource: { id: digest, type: "content" } });
  return async () => {
    await leases.delete({ id });
  };
}

/** Resolves once the file at `path` is gone; throws after `ms`. */
async function gone(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (true) {
    try {
      await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${path} was not removed in ${ms / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * One ingest and one get of the blob against `daemon`; MB/s of each.
 * The blob is deleted afterwards, and its file awaited gone (the daemon's
 * collector removes it), so that the next ingest really writes.
 */
async function once(
  daemon: BenchDaemon,
  file: string,
  digest: string,
  run: number,
): Promise<{ ingest: number; get: number }> {
  const address = ["--address", daemon.address];
  const stdin = openSync(file, "r");
  let ingest;
  try {
    ingest = await ctr([
      ...address,
      "content",
      "ingest",
      "--expected-size",
      String(BLOB_SIZE),
      "--expected-digest",
      digest,
      `bench-${run}-${Date.now()}`,
    ], stdin);
  } finally {
    closeSync(stdin);
  }
  if (ingest.code !== 0) {
    throw new Error(`${daemon.name}: ctr content ingest: ${ingest.stderr}`);
  }
  const devNull = openSync("/dev/null", "w");
  let get;
  try {
    get = await ctr([...address, "content", "get", digest], "ignore", devNull);
  } finally {
    closeSync(devNull);
  }
  if (get.code !== 0) {
    throw new Error(`${daemon.name}: ctr content get: ${get.stderr}`);
  }
  const rm = await ctr([...address, "content", "rm", digest]);
  if (rm.code !== 0) {
    throw new Error(`${daemon.name}: ctr content rm: ${rm.stderr}`);
  }
  await gone(
    `${daemon.dir}/root/io.containerd.content.v1.content/blobs/sha256/${
      digest.slice("sha256:".length)
    }`,
    REMOVAL_TIMEOUT_MS,
  );
  const mbps = (ms: number) => BLOB_SIZE / 1e6 / (ms / 1000);
  return { ingest: mbps(ingest.ms), get: mbps(get.ms) };
}

/** Runs the content benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const file = `${options.scratch}/blob`;
  options.log(`content: writing a ${BLOB_SIZE / 1e6} MB random blob`);
  const digest = await randomFile(file, BLOB_SIZE);
  const rows: BenchRow[] = ["ingest", "get"].map((operation) => ({
    operation,
    unit: "MB/s",
    higherIsBetter: true,
    median: {},
    runs: {},
  }));
  const releases: (() => Promise<void>)[] = [];
  try {
    for (const daemon of options.daemons) {
      for (const row of rows) row.runs[daemon.name] = [];
      releases.push(await holdBlob(daemon, digest));
    }
    for (let i = 0; i < options.runs; i++) {
      for (const daemon of options.daemons) {
        const result = await once(daemon, file, digest, i);
        rows[0].runs[daemon.name].push(result.ingest);
        rows[1].runs[daemon.name].push(result.get);
        options.log(
          `content: ${daemon.name} run ${i + 1}/${options.runs}: ingest ${
            result.ingest.toFixed(1)
          } MB/s, get ${result.get.toFixed(1)} MB/s`,
        );
      }
    }
  } finally {
    for (const release of releases) await release();
  }
  for (const row of rows) {
    for (const [side, values] of Object.entries(row.runs)) {
      row.median[side] = median(values);
    }
  }
  await Deno.remove(file).catch(() => {});
  return {
    bench: name,
    params: { blobBytes: BLOB_SIZE, runs: options.runs, client: "ctr" },
    rows,
  };
}
