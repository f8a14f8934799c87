/**
 * A soak: {@linkcode SEQUENTIAL} `ctr run --rm IMAGE ID true` one after
 * another, then {@linkcode PARALLEL} more, {@linkcode WIDTH} at a time,
 * against each daemon, side by side: the daemons take turns run by run
 * (sequential) and block by block (parallel), so the machine's load falls
 * on both alike. It samples what a leak would grow — the daemon's open
 * fds, threads and RSS, the mounts below the daemon's directory, and the
 * shim processes left — fresh (before the image import), after the import,
 * every {@linkcode SAMPLE_EVERY} runs, and once more after
 * {@linkcode IDLE_WAIT_MS} without calls; and each daemon's RSS after the
 * soak and when idle as ratios to its fresh RSS. After warm-up, every
 * column should stay flat. `BERTH_SOAK_SCALE` multiplies the run counts
 * (e.g. 0.25 for a quicker look), in whole blocks of {@linkcode SAMPLE_EVERY}.
 *
 * @module
 */
import { join } from "node:path";
import { buildImage, saveOciArchive } from "../tests/fixtures/images.ts";
import type { BenchOptions, BenchResult, BenchRow } from "./_bench.ts";
import { IMAGE, prepareSide, procMB, Side } from "./_side.ts";

/** The module's name for `deno task bench soak`. */
export const name = "soak";

/** A soak takes many minutes: it runs only when named. */
export const optIn = true;

/** Containers run one after another (before `BERTH_SOAK_SCALE`). */
export const SEQUENTIAL = 1000;

/** Containers run afterwards, {@linkcode WIDTH} at a time (same). */
export const PARALLEL = 200;

/** Containers running at once in the parallel phase. */
export const WIDTH = 8;

/** Runs between samples. */
export const SAMPLE_EVERY = 100;

/**
 * How long the daemons go without calls before the idle sample: past
 * berth's idle trim (10 s) and worker stop (30 s), and V8's memory reducer.
 */
export const IDLE_WAIT_MS = 45_000;

/** `count` times `BERTH_SOAK_SCALE`, in whole blocks of SAMPLE_EVERY. */
function scaled(count: number): number {
  const text = Deno.env.get("BERTH_SOAK_SCALE") ?? "1";
  const scale = Number(text);
  if (!(scale > 0)) {
    throw new Error(`BERTH_SOAK_SCALE must be a positive number, not ${text}`);
  }
  return Math.max(1, Math.round(count * scale / SAMPLE_EVERY)) * SAMPLE_EVERY;
}

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

/** `count` runs on `side`, `width` at a time, ids from `prefix` and `first`. */
async function runBlock(
  side: Side,
  prefix: string,
  first: number,
  count: number,
  width: number,
): Promise<void> {
  let next = first;
  const end = first + count;
  const worker = async () => {
    while (next < end) await runOnce(side, `${prefix}-${next++}`);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Samples by label (in the order taken), per side. */
type Samples = Map<string, Map<string, Sample>>;

/**
 * Soaks every side in turns; returns the samples. `sides` were prepared
 * (image imported) after their `fresh` sample.
 */
async function soak(
  sides: Side[],
  samples: Samples,
  log: (line: string) => void,
): Promise<void> {
  const take = async (side: Side, label: string) => {
    const s = await sample(side);
    samples.get(side.name)!.set(label, s);
    log(
      `soak: ${side.name} ${label}: RSS ${
        s.rss.toFixed(0)
      } MB, ${s.fds} fds, ${s.threads} threads, ${s.mounts} mounts, ${s.shims} shims`,
    );
  };
  for (const side of sides) await take(side, "import");
  const sequential = scaled(SEQUENTIAL);
  for (let i = 1; i <= sequential; i++) {
    for (const side of sides) await runOnce(side, `soak-${i}`);
    if (i % SAMPLE_EVERY === 0) {
      for (const side of sides) await take(side, `${i} seq`);
    }
  }
  const parallel = scaled(PARALLEL);
  for (let done = 0; done < parallel; done += SAMPLE_EVERY) {
    for (const side of sides) {
      await runBlock(side, "soak-par", done, SAMPLE_EVERY, WIDTH);
      await take(side, `${sequential + done + SAMPLE_EVERY} par`);
    }
  }
  log(`soak: idle for ${IDLE_WAIT_MS / 1000} s`);
  await new Promise((resolve) => setTimeout(resolve, IDLE_WAIT_MS));
  for (const side of sides) await take(side, "idle");
}

/** One row per metric and label, from every side's samples. */
function sampleRows(samples: Samples): BenchRow[] {
  const labels = [...samples.values().next().value?.keys() ?? []];
  const rows: BenchRow[] = [];
  for (const label of labels) {
    for (const metric of METRICS) {
      const row: BenchRow = {
        operation: `${metric.label} ${
          label === "fresh" || label === "idle" ? "" : "after "
        }${label}`,
        unit: metric.unit,
        higherIsBetter: false,
        median: {},
        runs: {},
      };
      for (const [sideName, bySide] of samples) {
        const value = bySide.get(label)?.[metric.key];
        if (value === undefined) continue;
        row.median[sideName] = value;
        row.runs[sideName] = [value];
      }
      rows.push(row);
    }
  }
  return rows;
}

/**
 * Each side's RSS after the import, at its highest sample while soaking,
 * after the soak (its last run's sample) and idle, over its fresh RSS:
 * what "memory grows with use" is judged by.
 */
function ratioRows(samples: Samples): BenchRow[] {
  const ratioOf = (
    name: string,
    pick: (labels: string[], bySide: Map<string, Sample>) => string,
  ) => {
    const row: BenchRow = {
      operation: `daemon RSS ${name} / fresh`,
      unit: "x",
      higherIsBetter: false,
      median: {},
      runs: {},
    };
    for (const [sideName, bySide] of samples) {
      const fresh = bySide.get("fresh")?.rss;
      const then = bySide.get(pick([...bySide.keys()], bySide))?.rss;
      if (!fresh || then === undefined) continue;
      row.median[sideName] = then / fresh;
      row.runs[sideName] = [then / fresh];
    }
    return row;
  };
  const highest = (bySide: Map<string, Sample>) =>
    [...bySide].filter(([label]) => / (seq|par)$/.test(label))
      .reduce((a, b) => b[1].rss > a[1].rss ? b : a)[0];
  return [
    ratioOf("after import", () => "import"),
    ratioOf("highest while soaking", (_, bySide) => highest(bySide)),
    ratioOf("after soak", (labels) => labels.at(-2)!),
    ratioOf("idle", () => "idle"),
  ];
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const { log, scratch } = options;
  const busybox = await buildImage("busybox");
  const archive = join(scratch, "busybox.tar");
  await saveOciArchive(busybox.layout, archive, IMAGE);
  const samples: Samples = new Map();
  const sides: Side[] = [];
  try {
    for (const daemon of options.daemons) {
      const fresh = await sample(
        new Side(daemon, ""), // sampling needs no fifo directory
      );
      samples.set(daemon.name, new Map([["fresh", fresh]]));
      log(`soak: ${daemon.name} fresh: RSS ${fresh.rss.toFixed(0)} MB`);
      sides.push(await prepareSide(daemon, archive, scratch));
    }
    await soak(sides, samples, log);
  } finally {
    await Promise.all(sides.map((side) => side.removeAll()));
  }
  return {
    bench: name,
    params: {
      sequential: scaled(SEQUENTIAL),
      parallel: scaled(PARALLEL),
      width: WIDTH,
      sampleEvery: SAMPLE_EVERY,
      idleWaitS: IDLE_WAIT_MS / 1000,
    },
    rows: [...ratioRows(samples), ...sampleRows(samples)],
  };
}
