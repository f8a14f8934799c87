/**
 * Content store throughput: the real `ctr content ingest` (a blob from a
 * file on stdin) and `ctr content get > /dev/null`, against berth and
 * containerd, a few runs each; the median in MB/s (10^6 bytes a second).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One ingest and one get of the blob against `daemon`; MB/s of each.
 * The blob is deleted afterwards (and the daemon's collector given a
 * moment), so that the next ingest really writes.
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
  // A collection scheduled by the delete must not take the next run's
  // freshly ingested (unleased) blob.
  await sleep(500);
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
  for (const daemon of options.daemons) {
    for (const row of rows) row.runs[daemon.name] = [];
    for (let i = 0; i < options.runs; i++) {
      let result;
      // A blob collected under our feet (a get that finds nothing) is a
      // lost run, not a result: try it once more.
      try {
        result = await once(daemon, file, digest, i);
      } catch (err) {
        options.log(
          `content: ${daemon.name} run ${i + 1} failed, retrying: ${
            (err as Error).message.trim()
          }`,
        );
        await sleep(1000);
        result = await once(daemon, file, digest, i);
      }
      rows[0].runs[daemon.name].push(result.ingest);
      rows[1].runs[daemon.name].push(result.get);
      options.log(
        `content: ${daemon.name} run ${i + 1}/${options.runs}: ingest ${
          result.ingest.toFixed(1)
        } MB/s, get ${result.get.toFixed(1)} MB/s`,
      );
    }
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
