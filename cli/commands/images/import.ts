/**
 * `berth ctr images import`.
 *
 * @module
 */
import type { Command } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ImportRequestSchema,
  Transfer,
} from "../../../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { Images } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import { rechunk } from "../../../src/client/content.ts";
import { parseLabelArgs } from "../../_format.ts";
import { DEFAULT_SNAPSHOTTER } from "../../../src/client/snapshots.ts";
import {
  collect,
  localDate,
  parsePlatforms,
  print,
  snapshotterOption,
} from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("import")
    .description("import images from an OCI or Docker archive")
    .usage("[flags] <in>")
    .argument("[in]", "archive to read, - for standard input")
    .option(
      "--base-name <name>",
      "base image name for added images, when provided only images with this name prefix are imported",
      "",
    )
    .option("--digests", "whether to create digest images (default: false)")
    .option(
      "--index-name <name>",
      "image name to keep index as, by default index is discarded",
    )
    .option("--all-platforms", "imports content for all platforms")
    .option(
      "--platform <platform>",
      "imports content for a specific platform (repeatable)",
      collect,
      [],
    )
    .option("--no-unpack", "skip unpacking the images")
    .addOption(snapshotterOption())
    .option("--label <label>", "labels to attach to the images", collect, [])
    .action(async (input: string | undefined, opts) => {
      if (!input) {
        throw new Error("please provide an archive to import (- for stdin)");
      }
      parsePlatforms(opts.platform);
      const snapshotter = opts.unpack
        ? opts.snapshotter || DEFAULT_SNAPSHOTTER
        : "";
      const conn = connect();
      const file = input === "-" ? undefined : await Deno.open(input);
      const source = file?.readable ?? Deno.stdin.readable;
      async function* requests(): AsyncGenerator<
        MessageInitShape<typeof ImportRequestSchema>
      > {
        yield {
          options: {
            // ctr names bare tags of an archive import-DATE:TAG by default.
            baseName: opts.baseName || `import-${localDate(new Date())}`,
            digests: Boolean(opts.digests),
            indexName: opts.indexName ?? "",
            platforms: opts.platform,
            allPlatforms: Boolean(opts.allPlatforms),
            snapshotter,
            labels: parseLabelArgs(opts.label, "true"),
          },
        };
        for await (const data of rechunk(source)) yield { data };
      }
      let names: string[] = [];
      try {
        const stream = conn.client(Transfer).import(requests(), {
          signal: conn.signal,
        });
        for await (const progress of stream) {
          // The last message names every image, joined by commas.
          if (progress.image) names = progress.image.split(",");
        }
      } finally {
        try {
          file?.close();
        } catch { /* the stream closed it */ }
      }
      if (!opts.unpack) return;
      // The daemon unpacked as it imported; these are ctr's lines.
      for (const name of names) {
        const { image } = await conn.client(Images).get({ name }, {
          signal: conn.signal,
        });
        print(`unpacking ${name} (${image?.target?.digest})...done\n`);
      }
    });
}
