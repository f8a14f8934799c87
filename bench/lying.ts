/**
 * The lying image (issue 14, item 2): the real `ctr images pull` of an
 * index that lists one manifest 3000 times, against berth and containerd in
 * turns, each on a fresh daemon. Reports the pull's time and the daemon's
 * RSS growth over its own fresh RSS: the highest sample during the pull
 * (every 100 ms), right after it, and after 25 s without calls. Opt-in:
 * `deno task bench lying`.
 *
 * @module
 */
import { pushLyingIndex } from "../tests/fixtures/lying_index.ts";
import { startRegistry } from "../tests/fixtures/registry.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  medians,
} from "./_bench.ts";
import { startBerth, startContainerd } from "./_daemons.ts";
import { procMB } from "./_side.ts";

/** The module's name for `deno task bench lying`. */
export const name = "lying";

/** Run only when asked for by name: each pull makes ~40k calls. */
export const optIn = true;

/** How many times the index lists its one manifest. */
const COPIES = 3000;
/** How long the daemon is left without calls before the last sample. */
const IDLE_MS = 25_000;
/**
 * How long one pull may take: containerd 1.6 was once seen stuck on it for
 * more than 6 minutes (`ref … locked` on every retried write).
 */
const PULL_TIMEOUT_MS = 300_000;

/** One pull's numbers, in seconds and MB over the fresh RSS. */
interface Sample {
  seconds: number;
  peak: number;
  after: number;
  idle: number;
}

/** Pulls `ref` with the real ctr on a fresh daemon and samples its RSS. */
async function pullOnce(side: string, ref: string): Promise<Sample> {
  const daemon = side === "berth"
    ? await startBerth()
    : await startContainerd();
  try {
    const rss = () => procMB(`/proc/${daemon.pid}/status`, "VmRSS");
    const fresh = await rss();
    let peak = fresh;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await rss().catch(() => peak));
    }, 100);
    const started = performance.now();
    const pull = await new Deno.Command("ctr", {
      args: [
        "--address",
        daemon.address,
        "images",
        "pull",
        "--plain-http",
        ref,
      ],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(PULL_TIMEOUT_MS),
    }).output();
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (!pull.success) {
      const grown = (await rss() - fresh).toFixed(0);
      throw new Error(
        `${side}: ctr pull failed after ${
          seconds.toFixed(0)
        } s (RSS +${grown} MB, peak +${(peak - fresh).toFixed(0)}): ${
          new TextDecoder().decode(pull.stderr).slice(-500)
        }`,
      );
    }
    const after = await rss();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idle = await rss();
    return {
      seconds,
      peak: Math.max(peak, after) - fresh,
      after: after - fresh,
      idle: idle - fresh,
    };
  } finally {
    await daemon.stop();
  }
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const sides = options.daemons.map((d) => d.name);
  await using registry = await startRegistry();
  const ref = await pushLyingIndex(registry, COPIES);
  const samples: Record<string, Sample[]> = {};
  for (let i = 0; i < options.runs; i++) {
    for (const side of sides) {
      const sample = await pullOnce(side, ref);
      (samples[side] ??= []).push(sample);
      options.log(
        `lying: ${side} run ${i + 1}/${options.runs}: ${
          sample.seconds.toFixed(1)
        } s, RSS +${sample.peak.toFixed(0)} MB peak, +${
          sample.after.toFixed(0)
        } after, +${sample.idle.toFixed(0)} idle`,
      );
    }
  }
  const row = (
    operation: string,
    unit: string,
    pick: (s: Sample) => number,
  ): BenchRow => {
    const runs = Object.fromEntries(
      Object.entries(samples).map(([side, list]) => [side, list.map(pick)]),
    );
    return {
      operation,
      unit,
      higherIsBetter: false,
      median: medians(runs),
      runs,
    };
  };
  return {
    bench: name,
    params: { copies: COPIES, runs: options.runs, client: "ctr" },
    rows: [
      row("ctr pull of the lying index (s)", "s", (s) => s.seconds),
      row("RSS growth, peak during the pull (MB)", "MB", (s) => s.peak),
      row("RSS growth right after (MB)", "MB", (s) => s.after),
      row("RSS growth after 25 s idle (MB)", "MB", (s) => s.idle),
    ],
  };
}
