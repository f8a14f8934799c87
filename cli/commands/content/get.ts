/**
 * `berth ctr content get`.
 *
 * @module
 */
import type { Command } from "commander";
import {
  parseDigest,
  readBlob,
  writeFull,
} from "../../../src/client/content.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("get")
    .description("get the data for an object")
    .argument("<digest>")
    .action(async (digest: string) => {
      parseDigest(digest);
      const conn = connect();
      try {
        for await (const data of readBlob(conn.api, digest)) {
          await writeFull(Deno.stdout, data);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
        // The reader went away (`| head`): end quietly with the status a
        // process killed by SIGPIPE has, as ctr does.
        throw Object.assign(new Error("broken pipe"), {
          code: "berth.brokenPipe",
          exitCode: 141,
        });
      }
    });
}
