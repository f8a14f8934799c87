/**
 * `berth ctr images label`.
 *
 * @module
 */
import type { Command } from "commander";
import { Images } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import { compareUTF8, parseLabelArgs } from "../../_format.ts";
import { print } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("label")
    .description("set and clear labels for an image")
    .usage("[flags] <name> [<key>=<value>, ...]")
    .argument("[name]")
    .argument("[labels...]")
    .option("-r, --replace-all", "replace all labels")
    .action(async (name: string | undefined, args: string[], opts) => {
      const labels = parseLabelArgs(args, "true");
      const conn = connect();
      if (!name) throw new Error("please specify an image");
      const paths = Object.keys(labels).map((k) =>
        opts.replaceAll ? "labels" : `labels.${k}`
      );
      const { image } = await conn.client(Images).update({
        image: { name, labels, target: {} },
        updateMask: paths.length ? { paths } : undefined,
      }, { signal: conn.signal });
      // ctr prints Go's random map order; sorted is one of them.
      print(
        Object.entries(image?.labels ?? {}).map(([k, v]) => `${k}=${v}`)
          .sort(compareUTF8).join(",") + "\n",
      );
    });
}
