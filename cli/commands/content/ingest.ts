/**
 * `berth ctr content ingest`.
 *
 * @module
 */
import type { Command } from "commander";
import { parseDigest, writeBlob } from "../../../src/client/content.ts";
import type { Connection } from "../../_client.ts";

function parseSize(text: string): bigint {
  if (!/^-?\d+$/.test(text)) {
    throw new Error(`invalid value ${JSON.stringify(text)} for a size`);
  }
  return BigInt(text);
}

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("ingest")
    .description("accept content into the store, from standard input")
    .argument("<ref>", "the ingest's transaction reference")
    .option("--expected-size <bytes>", "validate against provided size", "0")
    .option(
      "--expected-digest <digest>",
      "verify content against expected digest",
    )
    .action(async (ref: string, opts) => {
      const expected: string = opts.expectedDigest ?? "";
      if (expected) parseDigest(expected);
      if (!ref) throw new Error("must specify a transaction reference");
      const size = parseSize(opts.expectedSize);
      const conn = connect();
      await writeBlob(conn.api, ref, Deno.stdin.readable, size, expected);
    });
}
