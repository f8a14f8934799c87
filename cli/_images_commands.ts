/**
 * What the `images` commands share.
 *
 * @module
 */
import { type Command, Option } from "commander";
import {
  type Progress,
  Transfer,
} from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import {
  type Image,
  Images,
} from "../src/gen/containerd/services/images/v1/images_pb.ts";
import {
  formatPlatform,
  hostPlatform,
  onlyPlatform,
  parsePlatform,
  type Platform,
} from "../src/types/platform.ts";
import type { Connection } from "./_client.ts";
import { errorMessage } from "../src/client/errors.ts";
import { goDuration, parseLabelArgs } from "./_format.ts";
import {
  chainID,
  ContentReader,
  fromWire,
  imagePlatforms,
  rootFS,
} from "./_images.ts";
import {
  ProgressDisplay,
  terminalWidth,
  writeStdoutSync,
} from "./_progress.ts";
import { DEFAULT_SNAPSHOTTER } from "../src/client/snapshots.ts";

/** ctr's image tables: tabwriter(minwidth 1, tabwidth 8, padding 1, ' '). */
export const SPACES = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

export const collect = (value: string, all: string[]) => [...all, value];

export const print = (text: string) => writeStdoutSync(text);

export function snapshotterOption(): Option {
  return new Option(
    "--snapshotter <name>",
    "snapshotter name. Empty value stands for the default value.",
  ).env("BERTH_SNAPSHOTTER").default("");
}

export function parsePlatforms(specs: readonly string[]): Platform[] {
  return specs.map((spec) => {
    try {
      return parsePlatform(spec);
    } catch (err) {
      throw new Error(
        `unable to parse platform ${spec}: ${errorMessage(err)}`,
      );
    }
  });
}

export function registryOptions(opts: {
  plainHttp?: boolean;
  user?: string;
  hostsDir?: string;
}) {
  let credentials = opts.user ?? "";
  // Prompt-less: a user without a password has an empty one.
  if (credentials && !credentials.includes(":")) credentials += ":";
  return {
    plainHttp: Boolean(opts.plainHttp),
    credentials,
    hostsDir: opts.hostsDir ?? "",
  };
}

/** The registry flags ctr's pull and push share (those berth uses). */
export function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option("--plain-http", "allow connections using plain HTTP")
    .option("-u, --user <user:password>", "registry user and password")
    .option("--hosts-dir <dir>", "custom hosts configuration directory");
}

/** A display on stdout: live on a terminal, plain lines elsewhere. */
export function stdoutDisplay(reference?: string): ProgressDisplay {
  return new ProgressDisplay({
    tty: Deno.stdout.isTerminal(),
    write: writeStdoutSync,
    width: terminalWidth,
    reference,
  });
}

/** Runs a transfer's stream through a display; returns the last message. */
export async function follow(
  stream: AsyncIterable<Progress>,
  display: ProgressDisplay,
): Promise<Progress | undefined> {
  let last: Progress | undefined;
  let success = false;
  try {
    for await (const progress of stream) {
      display.update(progress);
      if (progress.image || progress.target) last = progress;
    }
    success = true;
  } finally {
    display.finish(success);
  }
  return last;
}

/** `pull`, under `images` and at the top. */
export function addPull(parent: Command, connect: () => Connection): void {
  addRegistryFlags(
    parent.command("pull")
      .description("pull an image from a remote")
      .usage("[flags] <ref>")
      .argument("[ref]"),
  )
    .addOption(snapshotterOption())
    .option("--label <label>", "labels to attach to the image", collect, [])
    .option(
      "--platform <platform>",
      "pull content from a specific platform (repeatable)",
      collect,
      [],
    )
    .option("--all-platforms", "pull content and metadata from all platforms")
    .option("--print-chainid", "print the resulting image's chain ID")
    .option(
      "--max-concurrent-downloads <n>",
      "set the max concurrent downloads for each pull",
      (v: string) => parseCount(v),
    )
    .action(async (ref: string | undefined, opts) => {
      if (!ref) throw new Error("please provide an image reference to pull");
      const platforms = parsePlatforms(opts.platform);
      const snapshotter = opts.snapshotter || DEFAULT_SNAPSHOTTER;
      const conn = connect();
      const started = performance.now();
      const stream = conn.client(Transfer).pull({
        reference: ref,
        platforms: opts.platform,
        allPlatforms: Boolean(opts.allPlatforms),
        snapshotter,
        registry: registryOptions(opts),
        maxConcurrentDownloads: opts.maxConcurrentDownloads ?? 0,
        labels: parseLabelArgs(opts.label, "true"),
      }, { signal: conn.signal });
      const last = await follow(stream, stdoutDisplay(ref));
      if (!last?.target) throw new Error(`pull of ${ref} ended without image`);
      const target = fromWire(last.target);
      const reader = new ContentReader(conn);
      let unpacked = opts.allPlatforms
        ? await imagePlatforms(reader, target)
        : platforms;
      if (unpacked.length === 0) unpacked = [hostPlatform()];
      // The daemon unpacked while it downloaded: these lines say what
      // ctr's would, and the time is the whole pull's.
      for (const platform of unpacked) {
        print(`unpacking ${formatPlatform(platform)} ${target.digest}...\n`);
        if (opts.printChainid) {
          const diffIDs = await rootFS(reader, target, onlyPlatform(platform));
          print(`image chain ID: ${chainID(diffIDs)}\n`);
        }
      }
      print(`done: ${goDuration((performance.now() - started) * 1e6)}\t\n`);
    });
}

/** A date as Go's `2006-01-02` layout prints it, in the local zone. */
export function localDate(date: Date): string {
  return `${String(date.getFullYear()).padStart(4, "0")}-${
    String(date.getMonth() + 1).padStart(2, "0")
  }-${String(date.getDate()).padStart(2, "0")}`;
}

export function parseCount(text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new Error(`invalid value ${JSON.stringify(text)}: not a count`);
  }
  return Number(text);
}

/** `push`, under `images` and at the top. */
export function addPush(parent: Command, connect: () => Connection): void {
  addRegistryFlags(
    parent.command("push")
      .description("push an image to a remote")
      .usage("[flags] <remote> [<local>]")
      .argument("[remote]")
      .argument("[local]"),
  )
    .option(
      "--platform <platform>",
      "push content from a specific platform (repeatable)",
      collect,
      [],
    )
    .option("--all-platforms", "push content of all platforms")
    .action(
      async (remote: string | undefined, local: string | undefined, opts) => {
        if (!remote) {
          throw new Error("please provide a remote image reference to push");
        }
        parsePlatforms(opts.platform);
        const conn = connect();
        const stream = conn.client(Transfer).push({
          image: local || remote,
          reference: remote,
          platforms: opts.platform,
          allPlatforms: Boolean(opts.allPlatforms),
          registry: registryOptions(opts),
        }, { signal: conn.signal });
        await follow(stream, stdoutDisplay());
      },
    );
}

export async function listImages(
  conn: Connection,
  filters: string[],
): Promise<Image[]> {
  const { images } = await conn.client(Images).list({ filters }, {
    signal: conn.signal,
  });
  return images;
}
