/**
 * Log lines on stderr, as ctr's logrus writes them
 * (`time=… level=… msg=… error=…`).
 *
 * @module
 */
import { errorMessage } from "../src/client/errors.ts";

/** A log line, as ctr's logrus formats it. */
export function logLine(
  level: "warning" | "error",
  msg: string,
  err?: unknown,
): string {
  const time = new Date().toISOString().replace(
    /\.(\d+)Z$/,
    (_, ms) => `.${ms.padEnd(9, "0")}Z`,
  );
  const quote = (s: string) =>
    /^[A-Za-z0-9\-._/@^+]+$/.test(s) ? s : JSON.stringify(s);
  return `time=${quote(time)} level=${level} msg=${quote(msg)}${
    err === undefined ? "" : ` error=${quote(errorMessage(err))}`
  }\n`;
}

/** Writes a log line to stderr. */
export function log(level: "warning" | "error", msg: string, err?: unknown) {
  let data = new TextEncoder().encode(logLine(level, msg, err));
  while (data.length) data = data.subarray(Deno.stderr.writeSync(data));
}
