/**
 * `berth ctr images tag`.
 *
 * @module
 */
import type { Command } from "commander";
import { Code, hasCode } from "../../../src/client/errors.ts";
import { Images } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import { print } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("tag")
    .description("tag an image")
    .usage("[flags] <source_ref> <target_ref> [<target_ref>, ...]")
    .argument("[source]")
    .argument("[targets...]")
    .option(
      "--force",
      "force target_ref to be created, regardless if it already exists",
    )
    .action(async (source: string | undefined, targets: string[], opts) => {
      if (!source) {
        throw new Error("please provide an image reference to tag from");
      }
      if (targets.length === 0) {
        throw new Error("please provide an image reference to tag to");
      }
      const conn = connect();
      const client = conn.client(Images);
      const { signal } = conn;
      const { image } = await client.get({ name: source }, { signal });
      for (const name of targets) {
        const record = {
          name,
          labels: image!.labels,
          target: image!.target,
        };
        try {
          await client.create({ image: record }, { signal });
        } catch (err) {
          if (
            !(hasCode(err, Code.AlreadyExists) &&
              opts.force)
          ) throw err;
          await client.delete({ name }, { signal });
          await client.create({ image: record }, { signal });
        }
        print(`${name}\n`);
      }
    });
}
