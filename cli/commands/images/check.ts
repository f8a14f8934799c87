/**
 * `berth ctr images check`.
 *
 * @module
 */
import type { Command } from "commander";
import { Snapshots } from "../../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import {
  defaultPlatformMatcher,
  type PlatformMatcher,
} from "../../../src/types/platform.ts";
import type { Connection } from "../../_client.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { log } from "../../_log.ts";
import { progressBytes, tabwrite } from "../../_format.ts";
import {
  chainID,
  checkImage,
  ContentReader,
  type Descriptor,
  fromWire,
  isNotFound,
  rootFS,
} from "../../_images.ts";
import { DEFAULT_SNAPSHOTTER } from "../../../src/client/snapshots.ts";
import {
  listImages,
  print,
  snapshotterOption,
  SPACES,
} from "../../_images_commands.ts";

/** Whether the image's rootfs for `matcher` is a snapshot (`IsUnpacked`). */
async function isUnpacked(
  conn: Connection,
  reader: ContentReader,
  target: Descriptor,
  matcher: PlatformMatcher,
  snapshotter: string,
): Promise<boolean> {
  const chain = chainID(await rootFS(reader, target, matcher));
  try {
    await conn.client(Snapshots).stat({ snapshotter, key: chain }, {
      signal: conn.signal,
    });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

// -------------------------------------------------------------------- mount

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  images.command("check")
    .description(
      "check existing images to ensure all content is available locally",
    )
    .usage("[flags] [<filter>, ...]")
    .argument("[filters...]")
    .option(
      "-q, --quiet",
      "print only the ready image refs (fully downloaded and unpacked)",
    )
    .addOption(snapshotterOption())
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const snapshotter = opts.snapshotter || DEFAULT_SNAPSHOTTER;
      let failure: Error | undefined;
      const list = await listImages(conn, filters).catch((err) => {
        throw new Error(`failed listing images: ${errorMessage(err)}`);
      });
      if (list.length === 0) return;
      const reader = new ContentReader(conn);
      const matcher = defaultPlatformMatcher();
      let text = "REF\tTYPE\tDIGEST\tSTATUS\tSIZE\tUNPACKED\t\n";
      for (const image of list) {
        const target = fromWire(image.target);
        let status = "complete";
        let size: string;
        let complete = true;
        try {
          const check = await checkImage(reader, target, matcher);
          const sum = (descs: Descriptor[]) =>
            descs.reduce((n, d) => n + d.size, 0);
          if (check.missing.length) {
            status = "incomplete";
            complete = false;
          }
          if (check.available) {
            status += ` (${check.present.length}/${check.required.length})`;
            size = `${progressBytes(sum(check.present))}/${
              progressBytes(sum(check.required))
            }`;
          } else {
            status = `unavailable (${check.present.length}/?)`;
            size = `${progressBytes(sum(check.present))}/?`;
            complete = false;
          }
        } catch (err) {
          failure ??= new Error(
            `unable to check ${image.name}: ${errorMessage(err)}`,
          );
          log("error", `unable to check ${image.name}`, err);
          status = "error";
          size = "-";
          complete = false;
        }
        let unpacked = false;
        try {
          unpacked = await isUnpacked(
            conn,
            reader,
            target,
            matcher,
            snapshotter,
          );
        } catch (err) {
          failure ??= new Error(
            `unable to check unpack for ${image.name}: ${errorMessage(err)}`,
          );
          log("error", `unable to check unpack for ${image.name}`, err);
        }
        if (opts.quiet) {
          if (complete) print(`${image.name}\n`);
        } else {
          text +=
            `${image.name}\t${target.mediaType}\t${target.digest}\t${status}\t${size}\t${unpacked}\n`;
        }
      }
      if (!opts.quiet) print(tabwrite(text, SPACES));
      if (failure) throw failure;
    });
}
