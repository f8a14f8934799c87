/**
 * A soak: {@linkcode SEQUENTIAL} `ctr run --rm IMAGE ID true` one after
 * another, then {@linkcode PARALLEL} more, {@linkcode WIDTH} at a time,
 * against each daemon. Every {@linkcode SAMPLE_EVERY} runs (and once
 * before the first) it samples what a leak would grow: the daemon's open
 * fds, threads and RSS, the mounts below the daemon's directory, and the
 * shim processes left. After warm-up, every column should stay flat.
 *
 * @module
 */
import { join } from "node:path";
import { buildImage, saveOciArchive } from "../tests/fixtures/images.ts";
import type { BenchOptions, BenchResult, BenchRow } from "./_bench.ts";
import { IMAGE, prepareSide, procMB, type Side } from "./_side.ts";

/** The module's name for `deno task bench soak`. */
export const name = "soak";

/** A soak takes many minutes: it runs only when named. */
export const optIn = true;

/** Containers run one after another. */
export const SEQUENTIAL = 1000;

/** Containers run afterwards, {@linkcode WIDTH} at a time. */
export const PARALLEL = 200;

/** Containers running at once in the parallel phase. */
export const WIDTH = 8;

/** Runs between samples. */
export const SAMPLE_EVERY = 100;

/** What one sample holds. */
interface Sample {
  fds: number;
  threads: number;
  rss: number;
  mounts: number;
  shims: number;
}

const METRICS: { key: keyof Sample; label: string; unit: string }[] = [
  { key: "rss", label: "daemon RSS", unit: "MB" },
  { key: "fds", label: "daemon fds", unit: "n" },
  { key: "threads", label: "daemon threads", unit: "n" },
  { key: "mounts", label: "mounts", unit: "n" },
  { key: "shims", label: "shims", unit: "n" },
];

/** Samples the daemon behind `side`. */
async function sample(side: Side): Promise<Sample> {
  const pid = side.daemon.pid;
  let fds = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const threads = Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? NaN);
  const mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
  const mounts =
    mountinfo.split("\n").filter((line) =>
      (line.split(" ")[4] ?? "").startsWith(`${side.daemon.dir}/`)
    ).length;
  return {
    fds,
    threads,
    rss: await procMB(`/proc/${pid}/status`, "VmRSS"),
    mounts,
    shims: (await side.shimPids()).length,
  };
}

/** `ctr run --rm … true` as container `id`. */
function runOnce(side: Side, id: string): Promise<unknown> {
  return side.must([...side.runArgs("--rm"), id, "true"]);
}

/** Runs the soak on one side; returns its samples by run count. */
async function soak(
  side: Side,
  log: (line: string) => void,
): Promise<Map<string, Sample>> {
  const samples = new Map<string, Sample>();
  const take = async (label: string) => {
    const s = await sample(side);
    samples.set(label, s);
    log(
      `soak: ${side.name} ${label}: RSS ${
        s.rss.toFixed(0)
      } MB, ${s.fds} fds, ${s.threads} threads, ${s.mounts} mounts, ${s.shims} shims`,
    );
  };
  await take("0");
  for (let i = 1; i <= SEQUENTIAL; i++) {
    await runOnce(side, `soak-${i}`);
    if (i % SAMPLE_EVERY === 0) await take(`${i} seq`);
  }
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < PARALLEL) {
      const id = `soak-par-${next++}`;
      await runOnce(side, id);
      done++;
      if (done % SAMPLE_EVERY === 0) await take(`${SEQUENTIAL + done} par`);
    }
  };
  await Promise.all(Array.from({ length: WIDTH }, worker));
  return samples;
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const { log, scratch } = options;
  const busybox = await buildImage("busybox");
  const archive = join(scratch, "busybox.tar");
  await saveOciArchive(busybox.layout, archive, IMAGE);
  const bySide = new Map<string, Map<string, Sample>>();
  const sides: Side[] = [];
  try {
    for (const daemon of options.daemons) {
      const side = await prepareSide(daemon, archive, scratch);
      sides.push(side);
      bySide.set(side.name, await soak(side, log));
    }
  } finally {
    await Promise.all(sides.map((side) => side.removeAll()));
  }
  const labels = [...bySide.values().next().value?.keys() ?? []];
  const rows: BenchRow[] = [];
  for (const label of labels) {
    for (const metric of METRICS) {
      const row: BenchRow = {
        operation: `${metric.label} after ${label}`,
        unit: metric.unit,
        higherIsBetter: false,
        median: {},
        runs: {},
      };
      for (const [sideName, samples] of bySide) {
        const value = samples.get(label)?.[metric.key];
        if (value === undefined) continue;
        row.median[sideName] = value;
        row.runs[sideName] = [value];
      }
      rows.push(row);
    }
  }
  return {
    bench: name,
    params: {
      sequential: SEQUENTIAL,
      parallel: PARALLEL,
      width: WIDTH,
      sampleEvery: SAMPLE_EVERY,
    },
    rows,
  };
}
