/**
 * `berth ctr images delete`.
 *
 * @module
 */
import type { Command } from "commander";
import { Images } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { log } from "../../_log.ts";
import { isNotFound } from "../../_images.ts";
import { print } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("delete").aliases(["del", "remove", "rm"])
    .description("remove one or more images by reference")
    .usage("[flags] <ref> [<ref>, ...]")
    .argument("[refs...]")
    .option("--sync", "synchronously remove image and all associated resources")
    .action(async (refs: string[], opts) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const [i, name] of refs.entries()) {
        try {
          await conn.client(Images).delete({
            name,
            sync: Boolean(opts.sync) && i === refs.length - 1,
          }, { signal: conn.signal });
        } catch (err) {
          if (isNotFound(err)) {
            log("warning", `${name}: image not found`);
            continue;
          }
          failure ??= new Error(
            `unable to delete ${name}: ${errorMessage(err)}`,
          );
          log("error", `unable to delete ${name}`, err);
          continue;
        }
        print(`${name}\n`);
      }
      if (failure) throw failure;
    });
}
