/**
 * `berth ctr content delete`.
 *
 * @module
 */
import type { Command } from "commander";
import { Content } from "../../../src/gen/containerd/services/content/v1/content_pb.ts";
import { parseDigest } from "../../../src/client/content.ts";
import { Code, errorMessage, hasCode } from "../../../src/client/errors.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("delete").aliases(["del", "remove", "rm"])
    .description(
      "permanently delete one or more blobs; prints each one deleted",
    )
    .argument("[digests...]")
    .action(async (digests: string[]) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const digest of digests) {
        try {
          parseDigest(digest);
          await conn.client(Content).delete({ digest }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (hasCode(err, Code.NotFound)) {
            continue;
          }
          const message = `could not delete ${digest}: ${errorMessage(err)}`;
          console.error(`ctr: ${message}`);
          failure ??= new Error(errorMessage(err));
          continue;
        }
        console.log(digest);
      }
      if (failure) throw failure;
    });
}
