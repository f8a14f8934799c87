/**
 * `berth ctr images list`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Image } from "../../../src/gen/containerd/services/images/v1/images_pb.ts";
import {
  defaultPlatformMatcher,
  formatPlatform,
} from "../../../src/types/platform.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { log } from "../../_log.ts";
import {
  compareUTF8,
  formatRFC3339Nano,
  goJSON,
  type GoJSONValue,
  goMap,
  progressBytes,
  tabwrite,
} from "../../_format.ts";
import {
  ContentReader,
  fromWire,
  imagePlatforms,
  imageSize,
} from "../../_images.ts";
import { listImages, print, SPACES } from "../../_images_commands.ts";
import type { Connection } from "../../_client.ts";

/** An image record as `ls --json` prints it: Go's `images.Image`, and more. */
function imageJSON(
  image: Image,
  size: number,
  platforms: string[],
): GoJSONValue {
  const target = fromWire(image.target);
  return {
    Name: image.name,
    Labels: Object.keys(image.labels).length ? goMap(image.labels) : null,
    Target: {
      mediaType: target.mediaType,
      digest: target.digest,
      size: target.size,
      annotations: image.target?.annotations &&
          Object.keys(image.target.annotations).length
        ? goMap(image.target.annotations)
        : undefined,
    },
    CreatedAt: formatRFC3339Nano(image.createdAt),
    UpdatedAt: formatRFC3339Nano(image.updatedAt),
    Size: size,
    Platforms: platforms,
  };
}

/** The PLATFORMS column: every platform once, sorted. */
async function platformColumn(
  reader: ContentReader,
  image: Image,
): Promise<string[] | undefined> {
  try {
    const specs = await imagePlatforms(reader, fromWire(image.target));
    return [...new Set(specs.map(formatPlatform))].sort(compareUTF8);
  } catch (err) {
    log("error", `failed resolving platform for image ${image.name}`, err);
    return undefined;
  }
}

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("list").alias("ls")
    .description("list images known to berth")
    .usage("[flags] [<filter>, ...]")
    .argument("[filters...]")
    .option("-q, --quiet", "print only the image refs")
    .option("--json", "print as JSON, with each image's size and platforms")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const list = await listImages(conn, filters).catch((err) => {
        throw new Error(`failed to list images: ${errorMessage(err)}`);
      });
      if (opts.quiet && !opts.json) {
        print(list.map((i) => `${i.name}\n`).join(""));
        return;
      }
      const reader = new ContentReader(conn);
      const matcher = defaultPlatformMatcher();
      const json: GoJSONValue[] = [];
      let text = "REF\tTYPE\tDIGEST\tSIZE\tPLATFORMS\tLABELS\t\n";
      for (const image of list) {
        const target = fromWire(image.target);
        const { size, error } = await imageSize(reader, target, matcher);
        if (error) {
          log(
            "error",
            `failed calculating size for image ${image.name}`,
            error,
          );
        }
        const platforms = await platformColumn(reader, image);
        if (opts.json) {
          json.push(imageJSON(image, size, platforms ?? []));
          continue;
        }
        const labels = Object.entries(image.labels).map(([k, v]) => `${k}=${v}`)
          .sort(compareUTF8).join(",");
        text += `${image.name}\t${target.mediaType}\t${target.digest}\t${
          progressBytes(size)
        }\t${platforms?.length ? platforms.join(",") : "-"}\t${
          labels || "-"
        }\t\n`;
      }
      print(opts.json ? goJSON(json) + "\n" : tabwrite(text, SPACES));
    });
}
