/**
 * `berth ctr images pull|push|ls|check|tag|label|rm|import|export|mount|
 * unmount`, and the shortcuts `berth ctr pull|push`: images, as ctr 1.6
 * drives and prints them. Records, content and snapshots go through the
 * Images, Content and Snapshots services as ctr's do; transfers (pull,
 * push, import, export) through berth's server-side Transfer service,
 * with ctr's progress display.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Command, Option } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ImportRequestSchema,
  type Progress,
  Transfer,
} from "../../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import {
  type Image,
  Images,
} from "../../src/gen/containerd/services/images/v1/images_pb.ts";
import { Content } from "../../src/gen/containerd/services/content/v1/content_pb.ts";
import { Diff } from "../../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Leases } from "../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../../src/gen/containerd/types/mount_pb.ts";
import {
  defaultPlatformMatcher,
  formatPlatform,
  hostPlatform,
  onlyPlatform,
  parsePlatform,
  type Platform,
  type PlatformMatcher,
} from "../../src/types/platform.ts";
import type { Connection } from "../_client.ts";
import { rechunk, writeFull } from "../../src/client/content.ts";
import { errorMessage } from "../../src/client/errors.ts";
import { log } from "../_log.ts";

export { logLine } from "../_log.ts";
import { mountAll, unmountAll } from "../../src/client/mount.ts";
export { mountArgs } from "../../src/client/mount.ts";
import {
  compareUTF8,
  formatRFC3339Nano,
  goDuration,
  goJSON,
  type GoJSONValue,
  goMap,
  parseLabelArgs,
  progressBytes,
  tabwrite,
} from "../_format.ts";
import {
  chainID,
  checkImage,
  ContentReader,
  type Descriptor,
  fromWire,
  imageManifest,
  imagePlatforms,
  imageSize,
  isNotFound,
  rootFS,
} from "../_images.ts";
import {
  ProgressDisplay,
  terminalWidth,
  writeStdoutSync,
} from "../_progress.ts";
import { LEASE_HEADER } from "../../src/client/core.ts";
import { expiresInADay } from "../_leases.ts";
import { DEFAULT_SNAPSHOTTER, uniquePart } from "../../src/client/snapshots.ts";

/** ctr's image tables: tabwriter(minwidth 1, tabwidth 8, padding 1, ' '). */
const SPACES = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

const collect = (value: string, all: string[]) => [...all, value];

const print = (text: string) => writeStdoutSync(text);

function snapshotterOption(): Option {
  return new Option(
    "--snapshotter <name>",
    "snapshotter name. Empty value stands for the default value.",
  ).env("BERTH_SNAPSHOTTER").default("");
}

function parsePlatforms(specs: readonly string[]): Platform[] {
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

function registryOptions(opts: {
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
function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option("--plain-http", "allow connections using plain HTTP")
    .option("-u, --user <user:password>", "registry user and password")
    .option("--hosts-dir <dir>", "custom hosts configuration directory");
}

/** A display on stdout: live on a terminal, plain lines elsewhere. */
function stdoutDisplay(reference?: string): ProgressDisplay {
  return new ProgressDisplay({
    tty: Deno.stdout.isTerminal(),
    write: writeStdoutSync,
    width: terminalWidth,
    reference,
  });
}

/** Runs a transfer's stream through a display; returns the last message. */
async function follow(
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
function addPull(parent: Command, connect: () => Connection): void {
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

function parseCount(text: string): number {
  if (!/^\d+$/.test(text)) {
    throw new Error(`invalid value ${JSON.stringify(text)}: not a count`);
  }
  return Number(text);
}

/** `push`, under `images` and at the top. */
function addPush(parent: Command, connect: () => Connection): void {
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

async function listImages(
  conn: Connection,
  filters: string[],
): Promise<Image[]> {
  const { images } = await conn.client(Images).list({ filters }, {
    signal: conn.signal,
  });
  return images;
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

/** Adds the command to `program`. */
export function imagesCommand(
  program: Command,
  connect: () => Connection,
): void {
  const images = program.command("images").aliases(["image", "i"])
    .description("manage images");

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

  images.command("mount")
    .description("mount an image to a target path")
    .usage("[flags] <ref> <target>")
    .argument("[ref]")
    .argument("[target]")
    .addOption(snapshotterOption())
    .option("--rw", "enable write support on the mount")
    .option(
      "--platform <platform>",
      "mount the image for the specified platform",
      formatPlatform(hostPlatform()),
    )
    .action(
      async (ref: string | undefined, target: string | undefined, opts) => {
        if (!ref) throw new Error("please provide an image reference to mount");
        if (!target) {
          throw new Error("please provide a target path to mount to");
        }
        const conn = connect();
        await mountImage(conn, ref, target, {
          snapshotter: opts.snapshotter || DEFAULT_SNAPSHOTTER,
          rw: Boolean(opts.rw),
          platform: opts.platform,
        });
      },
    );

  images.command("unmount")
    .description("unmount the image from the target")
    .usage("[flags] <target>")
    .argument("[target]")
    .addOption(snapshotterOption())
    .option("--rm", "remove the snapshot after a successful unmount")
    .action(async (target: string | undefined, opts) => {
      if (!target) {
        throw new Error("please provide a target path to unmount from");
      }
      const conn = connect();
      await unmountAll(target);
      if (opts.rm) {
        const snapshotter = opts.snapshotter || DEFAULT_SNAPSHOTTER;
        try {
          await conn.client(Leases).delete({ id: target }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (!isNotFound(err)) {
            throw new Error(`error deleting lease: ${errorMessage(err)}`);
          }
        }
        try {
          await conn.client(Snapshots).remove({ snapshotter, key: target }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (!isNotFound(err)) {
            throw new Error(`error removing snapshot: ${errorMessage(err)}`);
          }
        }
      }
      print(`${target}\n`);
    });

  addPull(images, connect);
  addPush(images, connect);

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
            !(err instanceof ConnectError && err.code === Code.AlreadyExists &&
              opts.force)
          ) throw err;
          await client.delete({ name }, { signal });
          await client.create({ image: record }, { signal });
        }
        print(`${name}\n`);
      }
    });

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

  addPull(program, connect);
  addPush(program, connect);
}

// -------------------------------------------------------------------- mount

const UNCOMPRESSED_LABEL = "containerd.io/uncompressed";
const GC_SNAPSHOT_LABEL = "containerd.io/gc.ref.snapshot.";

/**
 * The image's rootfs as a committed snapshot chain: layers already
 * unpacked (by a pull) are used as they are; the others are applied here,
 * as containerd's client unpacks (Prepare, Diff.Apply, Commit), under the
 * caller's lease. Returns the chain ID.
 */
export async function unpack(
  conn: Connection,
  reader: ContentReader,
  target: Descriptor,
  matcher: PlatformMatcher,
  snapshotter: string,
  options: { signal: AbortSignal; headers: Record<string, string> },
): Promise<string> {
  const manifest = await imageManifest(reader, target, matcher);
  const config = await reader.json<{ rootfs?: { diff_ids?: string[] } }>(
    manifest.config.digest,
  );
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== manifest.layers.length) {
    throw new Error("mismatched image rootfs and manifest layers");
  }
  const snapshots = conn.client(Snapshots);
  const exists = async (key: string) => {
    try {
      await snapshots.stat({ snapshotter, key }, options);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };
  let parent = "";
  for (const [i, layer] of manifest.layers.entries()) {
    const chain = chainID(diffIDs.slice(0, i + 1));
    if (await exists(chain)) {
      parent = chain;
      continue;
    }
    const key = `extract-${uniquePart()} ${chain}`;
    const { mounts } = await snapshots.prepare(
      { snapshotter, key, parent },
      options,
    );
    try {
      const { applied } = await conn.client(Diff).apply({
        diff: {
          mediaType: layer.mediaType,
          digest: layer.digest,
          size: BigInt(layer.size),
        },
        mounts,
      }, options);
      if (applied?.digest !== diffIDs[i]) {
        throw new Error(
          `wrong diff id calculated on extraction ${
            JSON.stringify(diffIDs[i])
          }`,
        );
      }
      await snapshots.commit({ snapshotter, name: chain, key }, options);
    } catch (err) {
      await snapshots.remove({ snapshotter, key }, options).catch(() => {});
      if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) {
        throw err;
      }
    }
    await conn.client(Content).update({
      info: {
        digest: layer.digest,
        labels: { [UNCOMPRESSED_LABEL]: diffIDs[i] },
      },
      updateMask: { paths: [`labels.${UNCOMPRESSED_LABEL}`] },
    }, options).catch(() => {});
    parent = chain;
  }
  const top = chainID(diffIDs);
  await conn.client(Content).update({
    info: {
      digest: manifest.config.digest,
      labels: { [GC_SNAPSHOT_LABEL + snapshotter]: top },
    },
    updateMask: { paths: [`labels.${GC_SNAPSHOT_LABEL}${snapshotter}`] },
  }, options);
  return top;
}

/**
 * `images mount`, in ctr's steps: a lease named after the target (24 h,
 * holding the snapshot), the image unpacked, a view (or, with `rw`, an
 * active snapshot) keyed by the target on the rootfs chain, and its
 * mounts made on the target by `mount(8)`.
 */
async function mountImage(
  conn: Connection,
  ref: string,
  target: string,
  opts: { snapshotter: string; rw: boolean; platform: string },
): Promise<void> {
  const { signal } = conn;
  const { snapshotter } = opts;
  const leases = conn.client(Leases);
  let created = false;
  try {
    await leases.create({
      id: target,
      labels: {
        ...expiresInADay(),
        [GC_SNAPSHOT_LABEL + snapshotter]: target,
      },
    }, { signal });
    created = true;
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) {
      throw err;
    }
  }
  const leased = { signal, headers: { [LEASE_HEADER]: target } };
  try {
    let platform: Platform;
    try {
      platform = parsePlatform(opts.platform);
    } catch (err) {
      throw new Error(
        `unable to parse platform ${opts.platform}: ${errorMessage(err)}`,
      );
    }
    const { image } = await conn.client(Images).get({ name: ref }, { signal });
    const reader = new ContentReader(conn);
    let chain: string;
    try {
      chain = await unpack(
        conn,
        reader,
        fromWire(image!.target),
        onlyPlatform(platform),
        snapshotter,
        leased,
      );
    } catch (err) {
      throw new Error(`error unpacking image: ${errorMessage(err)}`);
    }
    print(`${chain}\n`);
    const snapshots = conn.client(Snapshots);
    const request = { snapshotter, key: target, parent: chain };
    let mounts: Mount[];
    try {
      mounts = (opts.rw
        ? await snapshots.prepare(request, leased)
        : await snapshots.view(request, leased)).mounts;
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) {
        throw err;
      }
      mounts = (await snapshots.mounts({ snapshotter, key: target }, leased))
        .mounts;
    }
    try {
      await mountAll(mounts, target);
    } catch (err) {
      try {
        await snapshots.remove({ snapshotter, key: target }, { signal });
      } catch (cleanup) {
        if (!isNotFound(cleanup)) {
          console.error(
            "Error cleaning up snapshot after mount error:",
            errorMessage(cleanup),
          );
        }
      }
      throw err;
    }
    print(`${target}\n`);
  } catch (err) {
    if (created) {
      await leases.delete({ id: target }, { signal }).catch(() => {});
    }
    throw err;
  }
}
