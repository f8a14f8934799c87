/**
 * Writing to stdout synchronously, whole: a command's output is never
 * cut short by a partial write, and interleaves with stderr in order.
 *
 * @module
 */

/** Writes all of `text` to stdout. */
export function writeStdoutSync(text: string): void {
  let data = new TextEncoder().encode(text);
  while (data.length) data = data.subarray(Deno.stdout.writeSync(data));
}
