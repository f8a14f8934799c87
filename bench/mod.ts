/**
 * `deno task bench [--json] [--runs N] [--berth-only] [FILTER…]`: runs
 * every bench module whose name contains one of the filters (all but the
 * opt-in `soak` and `lying` without one) against berth and, when installed, a real containerd, each on
 * private temporary paths; prints a table of medians, and with `--json`
 * the results as JSON on stdout (the table then goes to stderr).
 *
 * @module
 */
import { Command } from "commander";
import {
  type BenchModule,
  type BenchResult,
  formatResult,
  ratio,
} from "./_bench.ts";
import { onPath, startDaemons } from "./_daemons.ts";
import * as content from "./content.ts";
import * as diff from "./diff.ts";
import * as lying from "./lying.ts";
import * as network from "./network.ts";
import * as pull from "./pull.ts";
import * as rpc from "./rpc.ts";
import * as run from "./run.ts";
import * as soak from "./soak.ts";

/** Every bench module, in the order they run. */
export const MODULES: BenchModule[] = [
  content,
  diff,
  pull,
  rpc,
  run,
  network,
  soak,
  lying,
];

/** Runs the benchmarks; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = new Command("bench")
    .description("berth's benchmarks, side by side with containerd")
    .argument("[filters...]", "run only the modules whose name contains one")
    .option("--json", "write the results as JSON to stdout")
    .option("--runs <n>", "runs per daemon and operation", "3")
    .option("--berth-only", "do not start containerd")
    .exitOverride()
    .showHelpAfterError();
  try {
    program.parse(args, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode ?? 2;
  }
  const filters: string[] = program.args;
  const opts = program.opts();
  const runs = Number(opts.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`bench: --runs must be a positive integer, not ${opts.runs}`);
    return 2;
  }
  const selected = MODULES.filter((m) =>
    filters.length === 0 ? !m.optIn : filters.some((f) => m.name.includes(f))
  );
  if (selected.length === 0) {
    console.error(
      `bench: no module matches ${filters.join(" ")} (modules: ${
        MODULES.map((m) => m.name).join(", ")
      })`,
    );
    return 2;
  }
  if (!await onPath("ctr")) {
    console.error("bench: needs containerd's ctr client on PATH");
    return 1;
  }
  const out = opts.json ? console.error : console.log;
  const log = (line: string) => console.error(line);
  const { daemons, notes } = await startDaemons(
    opts.berthOnly ? ["containerd"] : [],
  );
  for (const note of notes) log(`bench: ${note}`);
  const stopAll = () => Promise.all(daemons.map((d) => d.stop()));
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const scratch = await Deno.makeTempDir({ prefix: "berth-bench-data-" });
  const results: BenchResult[] = [];
  const started = performance.now();
  try {
    for (const module of selected) {
      const result = await module.run({ daemons, runs, scratch, log });
      results.push(result);
      out(formatResult(result, daemons.map((d) => d.name)));
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stopAll();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  log(`bench: done in ${((performance.now() - started) / 1000).toFixed(0)}s`);
  if (opts.json) {
    console.log(JSON.stringify(
      {
        daemons: daemons.map((d) => d.name),
        results: results.map((r) => ({
          ...r,
          rows: r.rows.map((row) => ({ ...row, ratio: ratio(row) ?? null })),
        })),
      },
      null,
      2,
    ));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
