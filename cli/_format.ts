/**
 * Output helpers shaped like ctr's: aligned columns (as Go's tabwriter
 * prints them), `KEY=VALUE` arguments and Go durations.
 *
 * @module
 */
import Table from "cli-table3";

const NO_BORDER = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "",
};

/**
 * Columns aligned with `gap` spaces between them, without borders: the
 * layout ctr's tabwriter gives.
 */
export function columns(
  rows: readonly (readonly string[])[],
  gap = 1,
): string {
  const table = new Table({
    chars: NO_BORDER,
    style: { head: [], border: [], "padding-left": 0, "padding-right": gap },
  });
  for (const row of rows) table.push([...row]);
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}

/** Splits `KEY=VALUE` arguments into labels (a bare `KEY` maps to ""). */
export function parseLabelArgs(
  args: readonly string[],
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 0) labels[arg] = "";
    else labels[arg.slice(0, at)] = arg.slice(at + 1);
  }
  return labels;
}

/** Labels as ctr prints them: `k=v` sorted, joined by commas. */
export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(",");
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration (`1m30s`, `500ms`, `0`) into milliseconds. */
export function parseDuration(text: string): number {
  if (text === "0") return 0;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    total += Number(match[1]) * UNITS[match[2]];
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new TypeError(`invalid duration ${JSON.stringify(text)}`);
  }
  return total;
}

/** A time as Go's `time.Time` prints in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
export function formatGoTime(date: Date, nanos?: number): string {
  const iso = date.toISOString();
  let fraction = nanos !== undefined
    ? String(nanos).padStart(9, "0")
    : iso.slice(20, 23).padEnd(9, "0");
  fraction = fraction.replace(/0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${
    fraction ? "." + fraction : ""
  } +0000 UTC`;
}
