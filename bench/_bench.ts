/**
 * What bench modules take and report, and the table the results print as.
 *
 * @module
 */
import { columns } from "../cli/_format.ts";
import type { BenchDaemon } from "./_daemons.ts";

/** One measured quantity, for every daemon. */
export interface BenchRow {
  /** What was measured, e.g. `ingest`. */
  operation: string;
  /** Unit of the medians, e.g. `MB/s`. */
  unit: string;
  /** Whether a larger number is better. */
  higherIsBetter: boolean;
  /** Median per daemon name. */
  median: Record<string, number>;
  /** Every run's value per daemon name. */
  runs: Record<string, number[]>;
  /** Why a side has no value, per side (the table shows `n/a`). */
  unavailable?: Record<string, string>;
}

/** What a bench module reports. */
export interface BenchResult {
  /** The module's name. */
  bench: string;
  /** Its parameters (sizes, run counts). */
  params: Record<string, unknown>;
  /** One row per measured quantity. */
  rows: BenchRow[];
}

/** Options every bench module takes. */
export interface BenchOptions {
  /** The daemons to compare; the first is berth. */
  daemons: BenchDaemon[];
  /** Runs per daemon and operation. */
  runs: number;
  /** A scratch directory that is removed afterwards. */
  scratch: string;
  /** Progress lines (to stderr). */
  log(line: string): void;
}

/** A bench module: `deno task bench` runs each whose name matches. */
export interface BenchModule {
  /** Its name. */
  name: string;
  /** Runs only when a filter names it (long soaks). */
  optIn?: boolean;
  /** Runs it. */
  run(options: BenchOptions): Promise<BenchResult>;
}

/** The middle value of `values` (the mean of the middle two when even). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of each side's runs. */
export function medians(
  runs: Record<string, number[]>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(runs).map(([side, values]) => [side, median(values)]),
  );
}

/** berth's median over containerd's, when both ran. */
export function ratio(row: BenchRow): number | undefined {
  const { berth, containerd } = row.median;
  if (berth === undefined || !containerd) return undefined;
  return berth / containerd;
}

function fixed(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  // A ratio (unit "x") near 1 needs its hundredths.
  if (unit === "x") return value.toFixed(2);
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/**
 * The results as a table: one line per measured quantity, the median of
 * each daemon, and berth's median divided by containerd's. Sides that are
 * not daemons (a baseline such as bare runc) get columns after them.
 */
export function formatResult(result: BenchResult, daemons: string[]): string {
  const sides = [...daemons];
  for (const row of result.rows) {
    for (const side of Object.keys(row.median)) {
      if (!sides.includes(side)) sides.push(side);
    }
  }
  const header = ["OPERATION", ...sides.map((s) => s.toUpperCase())];
  const compare = daemons.includes("berth") && daemons.includes("containerd");
  if (compare) header.push("BERTH/CONTAINERD");
  const lines = result.rows.map((row) => {
    const cells = [
      `${row.operation} (${row.unit})`,
      ...sides.map((s) =>
        row.unavailable?.[s] === undefined
          ? fixed(row.median[s], row.unit)
          : "n/a"
      ),
    ];
    if (compare) {
      cells.push(`${ratio(row)?.toFixed(2) ?? "-"}x`);
    }
    return cells;
  });
  const params = Object.entries(result.params).map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `${result.bench} (median; ${params})\n${
    columns([header, ...lines], 3)
  }`;
}
