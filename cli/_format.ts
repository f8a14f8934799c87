/**
 * Output helpers shaped like ctr's: aligned columns (as Go's tabwriter
 * prints them) and `KEY=VALUE` arguments.
 *
 * @module
 */
import { compareUTF8 } from "../src/types/utf8_order.ts";

/**
 * Columns aligned with `gap` spaces between them, without borders: the
 * layout ctr's tabwriter gives.
 */
export function columns(
  rows: readonly (readonly string[])[],
  gap = 1,
): string {
  const text = rows.map((row) => row.join("\t")).join("\n");
  return tabwrite(text, { padding: gap }).split("\n").map((line) =>
    line.trimEnd()
  ).join("\n");
}

/**
 * Splits `KEY=VALUE` arguments into labels; a bare `KEY` maps to `bare`
 * (ctr's commands differ: some give "", some "true").
 */
export function parseLabelArgs(
  args: readonly string[],
  bare = "",
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 0) labels[arg] = bare;
    else labels[arg.slice(0, at)] = arg.slice(at + 1);
  }
  return labels;
}

/** Labels as ctr prints them: `k=v` sorted, joined by commas. */
export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(",");
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

/** Settings of Go's `text/tabwriter` (no flags). */
export interface TabwriterOptions {
  /** Minimal cell width, padding included. */
  minwidth?: number;
  /** Width of a tab stop, when padding with tabs. */
  tabwidth?: number;
  /** Padding added to the widest cell of a column. */
  padding?: number;
  /** `" "` pads with spaces; `"\t"` pads with tabs to tab stops. */
  padchar?: string;
}

/**
 * Lays out `text` exactly as Go's `text/tabwriter` does with no flags:
 * cells are tab-terminated, the last cell of a line belongs to no column,
 * and a column block is a run of consecutive lines that have that cell.
 * ctr prints its tables through it, some padded with tabs, some with
 * spaces, some with a trailing tab per line (which pads the last column).
 */
export function tabwrite(text: string, options: TabwriterOptions = {}): string {
  const { minwidth = 0, tabwidth = 8, padding = 1, padchar = " " } = options;
  const lines = text.split("\n").map((line) => line.split("\t"));
  const width = (cell: string) => [...cell].length;
  const widths: number[] = [];
  let out = "";
  const pad = (textWidth: number, cellWidth: number) => {
    if (padchar === "\t") {
      if (tabwidth === 0) return;
      const stop = Math.ceil(cellWidth / tabwidth) * tabwidth;
      out += "\t".repeat(Math.ceil((stop - textWidth) / tabwidth));
    } else {
      out += padchar.repeat(cellWidth - textWidth);
    }
  };
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      lines[i].forEach((cell, j) => {
        out += cell;
        if (j < widths.length) pad(width(cell), widths[j]);
      });
      if (i + 1 < lines.length) out += "\n";
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let current = line0; current < line1; current++) {
      if (column >= lines[current].length - 1) continue;
      writeLines(line0, current);
      line0 = current;
      let cellWidth = minwidth;
      for (; current < line1; current++) {
        const line = lines[current];
        if (column >= line.length - 1) break;
        cellWidth = Math.max(cellWidth, width(line[column]) + padding);
      }
      widths.push(cellWidth);
      format(line0, current);
      widths.pop();
      // The line that ended the block lacks this column: the loop's
      // increment may skip it.
      line0 = current;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

/**
 * Rounds `x` to `precision` significant digits and prints it as Go's
 * `%.{precision}g` does for moderate magnitudes: no trailing zeros, and
 * exact ties rounded to even (JavaScript's `toPrecision` rounds them up).
 */
function formatG(x: number, precision: number): string {
  const exact = x.toExponential(precision + 20);
  const [mantissa, exponent] = exact.split("e");
  const digits = mantissa.replace(".", "").replace("-", "");
  const tie = digits[precision] === "5" &&
    /^0*$/.test(digits.slice(precision + 1));
  if (!tie) return String(Number(x.toPrecision(precision)));
  let kept = BigInt(digits.slice(0, precision));
  if (kept % 2n === 1n) kept += 1n;
  const scaled = `${kept}e${Number(exponent) - precision + 1}`;
  return String((x < 0 ? -1 : 1) * Number(scaled));
}

const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/**
 * A size as go-units' `HumanSize` prints it (decimal units, four
 * significant digits, no space): `0B`, `1.5kB`, `209.7MB`.
 */
export function humanSize(bytes: number | bigint): string {
  let size = Number(bytes);
  let unit = 0;
  while (size >= 1000 && unit < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${formatG(size, 4)}${DECIMAL_UNITS[unit]}`;
}

/**
 * An elapsed time as go-units' `HumanDuration` prints it: `Less than a
 * second`, `5 seconds`, `About a minute`, `3 hours`, `2 weeks` …
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/**
 * A time in the local zone as Go's `time.RFC3339` layout prints it:
 * `2006-01-02T15:04:05Z` in UTC, `2006-01-02T15:04:05+01:00` elsewhere.
 */
export function formatRFC3339(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const zone = offset === 0
    ? "Z"
    : `${offset < 0 ? "-" : "+"}${two(Math.trunc(Math.abs(offset) / 60))}:${
      two(Math.abs(offset) % 60)
    }`;
  return `${String(date.getFullYear()).padStart(4, "0")}-${
    two(date.getMonth() + 1)
  }-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}:${
    two(date.getSeconds())
  }${zone}`;
}

/**
 * `x` with `precision` decimals as Go's `%.{precision}f` prints it: exact
 * ties round to even (JavaScript's `toFixed` rounds them away from zero).
 */
export function formatFixed(x: number, precision: number): string {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x.toFixed(precision);
  // toFixed gives the exact decimal expansion of the double when asked
  // for enough digits: a tie is a 5 followed only by zeros.
  const exact = Math.abs(x).toFixed(Math.min(100, precision + 60));
  const point = exact.indexOf(".");
  const rest = exact.slice(point + 1 + precision);
  if (!/^50*$/.test(rest)) return x.toFixed(precision);
  const kept = exact.slice(0, point + 1 + precision).replace(/\.$/, "");
  const lastDigit = Number(kept[kept.length - 1]);
  if (lastDigit % 2 === 0) return `${x < 0 ? "-" : ""}${kept}`;
  return x.toFixed(precision);
}

const BINARY_UNITS = [
  "B",
  "KiB",
  "MiB",
  "GiB",
  "TiB",
  "PiB",
  "EiB",
  "ZiB",
  "YiB",
];

/**
 * A size as ctr's `progress.Bytes` prints it (binary units, one decimal,
 * a space): `0.0 B`, `4.0 KiB`, `1.2 MiB`.
 */
export function progressBytes(bytes: number | bigint): string {
  let size = Number(bytes);
  let unit = 0;
  while (size >= 1024 && unit < BINARY_UNITS.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${formatFixed(size, 1).padStart(2, "0")} ${BINARY_UNITS[unit]}`;
}

/**
 * A protobuf timestamp as Go's `time.Time` marshals to JSON in UTC
 * (RFC 3339 with nanoseconds, trailing zeros dropped):
 * `2026-11-28T09:32:34.143Z`. No timestamp is Go's zero time.
 */
export function formatRFC3339Nano(
  ts: { seconds: bigint; nanos: number } | undefined,
): string {
  const seconds = ts?.seconds ?? -62135596800n;
  const nanos = ts?.nanos ?? 0;
  const iso = new Date(Number(seconds) * 1000).toISOString();
  const fraction = String(nanos).padStart(9, "0").replace(/0+$/, "");
  // Years beyond 9999 are six digits in toISOString; Go keeps four or more.
  const date = iso.replace(/^\+0*(\d{4,})/, "$1").replace(/\.\d+Z$/, "");
  return `${date}${fraction ? "." + fraction : ""}Z`;
}

const GO_JSON_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** A string as Go's `encoding/json` (1.19) writes it, HTML escaping on. */
function goJSONString(text: string): string {
  return `"${
    text.replace(
      // deno-lint-ignore no-control-regex
      /["\\<>&\u2028\u2029\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
      (c) =>
        GO_JSON_ESCAPES[c] ??
          (c.charCodeAt(0) < 0x20
            ? `\\u00${c.charCodeAt(0).toString(16).padStart(2, "0")}`
            : "\\ufffd"),
    )
  }"`;
}

/** Compares strings by their UTF-8 bytes, the order Go sorts map keys in. */
export { compareUTF8 };

/** A value Go's `encoding/json` would marshal: objects keep their key order. */
export type GoJSONValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | GoJSONValue[]
  | { [key: string]: GoJSONValue | undefined };

/**
 * `value` as ctr's `PrintAsJSON` prints it (`json.MarshalIndent` with four
 * spaces): Go's string escapes, `[]` and `{}` when empty. Keys are written
 * in the object's order (a Go struct's field order; sort maps with
 * {@linkcode goMap}); undefined members are left out (`omitempty`).
 */
export function goJSON(value: GoJSONValue, indent = "    "): string {
  const write = (v: GoJSONValue, depth: number): string => {
    if (v === null) return "null";
    if (typeof v === "string") return goJSONString(v);
    if (
      typeof v === "number" || typeof v === "bigint" || typeof v === "boolean"
    ) return String(v);
    const inner = indent.repeat(depth + 1);
    const outer = indent.repeat(depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      return `[\n${
        v.map((item) => inner + write(item, depth + 1)).join(",\n")
      }\n${outer}]`;
    }
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    return `{\n${
      entries.map(([k, x]) =>
        `${inner}${goJSONString(k)}: ${write(x!, depth + 1)}`
      ).join(",\n")
    }\n${outer}}`;
  };
  return write(value, 0);
}

/** A Go `map[string]string` for {@linkcode goJSON}: keys sorted as Go sorts them. */
export function goMap(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(map).sort(([a], [b]) => compareUTF8(a, b)),
  );
}

/** A string as Go's `%q` (strconv.Quote) prints it. */
export function goQuote(text: string): string {
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0)!;
    switch (c) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\x07":
        out += "\\a";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\v":
        out += "\\v";
        continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) out += "\\ufffd";
    else if (c === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(c)) out += c;
    else if (code < 0x80) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code < 0x10000) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return out + '"';
}

/** What ctr's (urfave/cli's) help for a subcommand shows. */
export interface CtrHelp {
  /** The full name, e.g. `ctr snapshots prepare`. */
  helpName: string;
  /** The one-line usage. */
  usage: string;
  /** The arguments' usage, e.g. `<key> [<parent>]`. */
  argsUsage?: string;
  /** The flags, each `NAMES\tUSAGE`, e.g. `--mounts\tprint mounts`. */
  flags?: string[];
}

/**
 * A subcommand's help exactly as ctr prints it when the arguments do not
 * fit (it then exits 0): NAME, USAGE and OPTIONS, laid out by a tabwriter.
 */
export function ctrHelp(help: CtrHelp): string {
  const flags = help.flags ?? [];
  let text =
    `NAME:\n   ${help.helpName} - ${help.usage}\n\nUSAGE:\n   ${help.helpName}${
      flags.length ? " [command options]" : ""
    } ${help.argsUsage || "[arguments...]"}`;
  if (flags.length) {
    text += "\n\nOPTIONS:\n   " + flags.map((f) => `${f}\n   `).join("");
  }
  return tabwrite(text + "\n", { minwidth: 1, tabwidth: 8, padding: 2 });
}

/**
 * A duration in nanoseconds as Go's `time.Duration` prints it: `0s`,
 * `512ns`, `1.5µs`, `12.25ms`, `1.234567891s`, `2m3.5s`, `1h0m0s`.
 */
export function goDuration(nanos: number): string {
  let n = Math.round(Math.abs(nanos));
  const sign = nanos < 0 ? "-" : "";
  if (n === 0) return "0s";
  const fraction = (value: number, digits: number) => {
    const whole = Math.floor(value / 10 ** digits);
    const rest = String(value % 10 ** digits).padStart(digits, "0")
      .replace(/0+$/, "");
    return rest ? `${whole}.${rest}` : String(whole);
  };
  if (n < 1000) return `${sign}${n}ns`;
  if (n < 1_000_000) return `${sign}${fraction(n, 3)}µs`;
  if (n < 1_000_000_000) return `${sign}${fraction(n, 6)}ms`;
  const seconds = fraction(n % 60_000_000_000, 9);
  n = Math.floor(n / 60_000_000_000);
  if (n === 0) return `${sign}${seconds}s`;
  const minutes = n % 60;
  const hours = Math.floor(n / 60);
  return `${sign}${hours ? `${hours}h` : ""}${minutes}m${seconds}s`;
}
