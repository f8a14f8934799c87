/**
 * Go-style durations (`1m30s`, `500ms`), as containerd's config and ctr's
 * flags write them.
 *
 * @module
 */

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
