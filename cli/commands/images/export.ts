/**
 * `berth ctr images export`.
 *
 * @module
 */
import type { Command } from "commander";
import { Transfer } from "../../../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { parsePlatform } from "../../../src/types/platform.ts";
import { writeFull } from "../../../src/client/content.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { collect } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("export")
    .description("export images")
    .usage("[flags] <out> <image> ...")
    .argument("[out]", "file to write, - for standard output")
    .argument("[images...]")
    .option(
      "--skip-manifest-json",
      "do not add Docker compatible manifest.json to archive",
    )
    .option(
      "--skip-non-distributable",
      "do not add non-distributable blobs such as Windows layers to archive",
    )
    .option(
      "--platform <platform>",
      "export content of a specific platform (repeatable)",
      collect,
      [],
    )
    .option("--all-platforms", "exports content from all platforms")
    .action(async (out: string | undefined, names: string[], opts) => {
      if (!out || names.length === 0) {
        throw new Error(
          "please provide both an output filename and an image reference to export",
        );
      }
      for (const spec of opts.platform as string[]) {
        try {
          parsePlatform(spec);
        } catch (err) {
          throw new Error(`invalid platform "${spec}": ${errorMessage(err)}`);
        }
      }
      const conn = connect();
      const file = out === "-" ? undefined : await Deno.open(out, {
        write: true,
        create: true,
        truncate: true,
      });
      try {
        const sink = file ?? Deno.stdout;
        const stream = conn.client(Transfer).export({
          images: names,
          platforms: opts.platform,
          allPlatforms: Boolean(opts.allPlatforms),
          skipNonDistributable: Boolean(opts.skipNonDistributable),
          skipDockerManifest: Boolean(opts.skipManifestJson),
        }, { signal: conn.signal });
        for await (const { data } of stream) {
          if (data.length) await writeFull(sink, data);
        }
      } finally {
        file?.close();
      }
    });
}
