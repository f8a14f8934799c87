/**
 * `berth ctr snapshots prepare|view|mounts|commit|ls|info|usage|tree|label|
 * rm|diff`: a snapshotter, as ctr 1.6 drives and prints it.
 *
 * @module
 */
import { type Command, Option } from "commander";
import {
  type Info,
  Kind,
  Snapshots,
} from "../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { Diff } from "../../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Leases } from "../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import type { Mount } from "../../src/gen/containerd/types/mount_pb.ts";
import type { Connection } from "../_client.ts";
import { readBlob, writeFull } from "../../src/client/content.ts";
import { DEFAULT_SNAPSHOTTER, uniquePart } from "../../src/client/snapshots.ts";
import { errorMessage } from "../../src/client/errors.ts";
import {
  type CtrHelp,
  ctrHelp,
  formatRFC3339Nano,
  goJSON,
  type GoJSONValue,
  goMap,
  goQuote,
  parseLabelArgs,
  progressBytes,
  tabwrite,
} from "../_format.ts";
import { temporaryLease } from "../_leases.ts";

export { DEFAULT_SNAPSHOTTER, uniquePart } from "../../src/client/snapshots.ts";

/** The label that keeps a snapshot (or blob) from the garbage collector. */
export const GC_ROOT_LABEL = "containerd.io/gc.root";

/** The layer media type `diff` makes unless told otherwise. */
export const LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

/** ctr's snapshot tables: tabwriter(minwidth 1, tabwidth 8, padding 1, ' '). */
const SPACES = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

/** A kind as Go's `snapshots.Kind` prints (ctr reads unknown as committed). */
export function kindName(kind: Kind): string {
  if (kind === Kind.ACTIVE) return "Active";
  if (kind === Kind.VIEW) return "View";
  return "Committed";
}

/** An Info as ctr's `PrintAsJSON` shows a Go `snapshots.Info`. */
export function infoJSON(info: Info): GoJSONValue {
  const labels = Object.keys(info.labels).length
    ? goMap(info.labels)
    : undefined;
  return {
    Kind: kindName(info.kind),
    Name: info.name,
    Parent: info.parent || undefined,
    Labels: labels,
    Created: formatRFC3339Nano(info.createdAt),
    Updated: formatRFC3339Nano(info.updatedAt),
  };
}

/** Mounts as ctr's `PrintAsJSON` shows Go `mount.Mount`s. */
export function mountsJSON(mounts: readonly Mount[]): GoJSONValue {
  return mounts.map((m) => ({
    Type: m.type,
    Source: m.source,
    // An empty repeated field decodes to a nil slice in Go.
    Options: m.options.length ? [...m.options] : null,
  }));
}

/** The mount command lines ctr prints for `--target` and `mounts`. */
export function mountCommands(target: string, mounts: readonly Mount[]) {
  return mounts.map((m) =>
    `mount -t ${m.type} ${m.source} ${target} -o ${m.options.join(",")}\n`
  ).join("");
}

interface TreeNode {
  name: string;
  parent: string;
  children: string[];
}

/**
 * The tree ctr's `snapshots tree` prints, from snapshots in the order the
 * daemon listed them: every parentless snapshot (or parent that was not
 * listed) at the left, children indented two spaces more under `\_`.
 */
export function snapshotTree(
  infos: readonly { name: string; parent: string }[],
): string {
  const nodes: TreeNode[] = [];
  const index = new Map<string, TreeNode>();
  const add = (name: string, parent: string): TreeNode => {
    let node = index.get(name);
    if (!node) {
      node = { name, parent, children: [] };
      nodes.push(node);
      index.set(name, node);
    } else {
      node.parent = parent;
    }
    if (parent) {
      const parentNode = index.get(parent) ?? add(parent, "");
      parentNode.children.push(name);
    }
    return node;
  };
  for (const info of infos) add(info.name, info.parent);
  let out = "";
  const print = (name: string, level: number) => {
    const node = index.get(name)!;
    out += `${"  ".repeat(level)}${level > 0 ? "\\_" : ""} ${node.name}\n`;
    for (const child of node.children) print(child, level + 1);
  };
  for (const node of nodes) if (!node.parent) print(node.name, 0);
  return out;
}

/** The time ctr writes into a `containerd.io/gc.root` label. */
function gcRootNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

async function writeText(text: string): Promise<void> {
  await writeFull(Deno.stdout, new TextEncoder().encode(text));
}

/**
 * A subcommand's arguments did not fit: ctr then prints its help to
 * stdout and exits 0.
 */
async function showHelp(help: Omit<CtrHelp, "helpName">, name: string) {
  await writeText(ctrHelp({ ...help, helpName: `ctr snapshots ${name}` }));
}

const TARGET_FLAGS = [
  "--target value, -t value\tmount target path, will print mount, if provided",
  "--mounts\tPrint out snapshot mounts as JSON",
];

/** Adds the command to `program`. */
export function snapshotsCommand(
  program: Command,
  connect: () => Connection,
): void {
  const snapshots = program.command("snapshots").alias("snapshot")
    .description("manage snapshots")
    .addOption(
      new Option(
        "--snapshotter <name>",
        "snapshotter name; empty stands for the default",
      ).env("BERTH_SNAPSHOTTER").default(DEFAULT_SNAPSHOTTER),
    );
  const snapshotter = (): string =>
    snapshots.opts().snapshotter || DEFAULT_SNAPSHOTTER;

  /** The connection and the Snapshots client. */
  const open = () => {
    const conn = connect();
    return { conn, client: conn.client(Snapshots), signal: conn.signal };
  };

  const createCommand = (
    name: "prepare" | "view",
    usage: string,
  ) =>
    snapshots.command(name)
      .description(usage)
      .usage("[flags] <key> [<parent>]")
      .argument("[args...]")
      .option("-t, --target <path>", "mount target path; prints the mount")
      .option("--mounts", "print out snapshot mounts as JSON")
      .action(async (args: string[], opts) => {
        if (args.length < 1 || args.length > 2) {
          await showHelp({
            usage,
            argsUsage: "[flags] <key> [<parent>]",
            flags: TARGET_FLAGS,
          }, name);
          return;
        }
        const [key, parent = ""] = args;
        const { client, signal } = open();
        const request = { snapshotter: snapshotter(), key, parent };
        const { mounts } = name === "prepare"
          ? await client.prepare({
            ...request,
            labels: { [GC_ROOT_LABEL]: gcRootNow() },
          }, { signal })
          : await client.view(request, { signal });
        if (opts.target) await writeText(mountCommands(opts.target, mounts));
        if (opts.mounts) await writeText(goJSON(mountsJSON(mounts)) + "\n");
      });

  createCommand("prepare", "prepare a snapshot from a committed snapshot");
  createCommand(
    "view",
    "create a read-only snapshot from a committed snapshot",
  );

  snapshots.command("mounts").aliases(["m", "mount"])
    .description("mount gets mount commands for the snapshots")
    .usage("<target> <key>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      const usage = "mount gets mount commands for the snapshots";
      if (args.length !== 2) {
        return await showHelp({ usage, argsUsage: "<target> <key>" }, "mounts");
      }
      const [target, key] = args;
      const { client, signal } = open();
      const { mounts } = await client.mounts(
        { snapshotter: snapshotter(), key },
        { signal },
      );
      await writeText(mountCommands(target, mounts));
    });

  snapshots.command("commit")
    .description("commit an active snapshot into the provided name")
    .usage("<key> <active>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      const usage = "commit an active snapshot into the provided name";
      if (args.length !== 2) {
        return await showHelp({ usage, argsUsage: "<key> <active>" }, "commit");
      }
      const [name, key] = args;
      const { client, signal } = open();
      await client.commit({
        snapshotter: snapshotter(),
        name,
        key,
        labels: { [GC_ROOT_LABEL]: gcRootNow() },
      }, { signal });
    });

  /** Every snapshot, in the order the daemon lists them. */
  const walk = async (
    client: ReturnType<typeof open>["client"],
    signal: AbortSignal,
  ): Promise<Info[]> => {
    const infos: Info[] = [];
    const stream = client.list({ snapshotter: snapshotter() }, { signal });
    for await (const resp of stream) infos.push(...resp.info);
    return infos;
  };

  snapshots.command("list").alias("ls")
    .description("list snapshots")
    .argument("[ignored...]")
    .option("--json", "print as JSON (the objects `info` prints)")
    .action(async (_ignored: string[], opts) => {
      const { client, signal } = open();
      const infos = await walk(client, signal);
      if (opts.json) {
        await writeText(goJSON(infos.map(infoJSON)) + "\n");
        return;
      }
      let text = "KEY\tPARENT\tKIND\t\n";
      for (const info of infos) {
        text += `${info.name}\t${info.parent}\t${kindName(info.kind)}\t\n`;
      }
      await writeText(tabwrite(text, SPACES));
    });

  snapshots.command("info")
    .description("get info about a snapshot")
    .usage("<key>")
    .argument("[args...]")
    .action(async (args: string[]) => {
      if (args.length !== 1) {
        return await showHelp({
          usage: "get info about a snapshot",
          argsUsage: "<key>",
        }, "info");
      }
      const { client, signal } = open();
      const { info } = await client.stat(
        { snapshotter: snapshotter(), key: args[0] },
        { signal },
      );
      await writeText(goJSON(infoJSON(info!)) + "\n");
    });

  snapshots.command("usage")
    .description("usage snapshots; all of them without a key")
    .usage("[flags] [<key>, ...]")
    .argument("[keys...]")
    .option("-b", "display size in bytes")
    .action(async (keys: string[], opts) => {
      const size = (bytes: bigint) =>
        opts.b ? String(bytes) : progressBytes(bytes);
      const { client, signal } = open();
      const usageOf = (key: string) =>
        client.usage({ snapshotter: snapshotter(), key }, { signal });
      // As ctr's, the table is printed only once every usage was read.
      let text = "KEY\tSIZE\tINODES\t\n";
      const names = keys.length
        ? keys
        : (await walk(client, signal)).map((i) => i.name);
      for (const key of names) {
        const usage = await usageOf(key);
        text += `${key}\t${size(usage.size)}\t${usage.inodes}\t\n`;
      }
      await writeText(tabwrite(text, SPACES));
    });

  snapshots.command("tree")
    .description("display tree view of snapshot branches")
    .argument("[ignored...]")
    .action(async () => {
      const { client, signal } = open();
      await writeText(snapshotTree(await walk(client, signal)));
    });

  snapshots.command("label")
    .description(
      "add labels to a snapshot; KEY= clears a label, a bare KEY sets it to true",
    )
    .usage("<name> [<label>=<value> ...]")
    .argument("[name]")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string | undefined, args: string[]) => {
      const key = name ?? "";
      const labels = parseLabelArgs(args, "true");
      const { client, signal } = open();
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const set = Object.fromEntries(
        Object.entries(labels).filter(([, v]) => v !== ""),
      );
      const { info } = paths.length === 0
        ? await client.stat({ snapshotter: snapshotter(), key }, { signal })
        : await client.update({
          snapshotter: snapshotter(),
          info: { name: key, kind: Kind.COMMITTED, labels: set },
          updateMask: { paths },
        }, { signal });
      // ctr prints Go's map order, which is random; sorted is one of them.
      const text = Object.entries(info?.labels ?? {}).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0
      ).map(([k, v]) => `${k}=${v}`).join(",");
      await writeText(text + "\n");
    });

  snapshots.command("delete").aliases(["del", "remove", "rm"])
    .description("remove snapshots")
    .usage("<key> [<key>, ...]")
    .argument("[keys...]")
    .action(async (keys: string[]) => {
      const { client, signal } = open();
      for (const key of keys) {
        try {
          await client.remove({ snapshotter: snapshotter(), key }, { signal });
        } catch (err) {
          throw new Error(
            `failed to remove ${goQuote(key)}: ${errorMessage(err)}`,
            { cause: err },
          );
        }
      }
    });

  snapshots.command("diff")
    .description(
      "get the diff of two snapshots. the default second snapshot is the first snapshot's parent.",
    )
    .usage("[flags] <idA> [<idB>]")
    .argument("[idA]")
    .argument("[idB]")
    .option(
      "--media-type <type>",
      "media type to use for creating diff",
      LAYER_GZIP,
    )
    .option("--ref <ref>", "content upload reference to use", "")
    .option("--keep", "keep diff content. up to creator to delete it.")
    .option(
      "--label <label>",
      "labels to attach to the diff, KEY=VALUE (repeatable)",
      (label: string, all: string[]) => [...all, label],
      [] as string[],
    )
    .allowExcessArguments()
    .action(async (idA: string | undefined, idB: string | undefined, opts) => {
      if (!idA) throw new Error("snapshot id must be provided");
      const conn = connect();
      await diffCommand(conn, snapshotter(), idA, idB ?? "", {
        mediaType: opts.mediaType,
        ref: opts.ref,
        keep: Boolean(opts.keep),
        labels: parseLabelArgs(opts.label, "true"),
      });
    });
}

/** Options of `snapshots diff`. */
interface DiffOptions {
  mediaType: string;
  ref: string;
  keep: boolean;
  labels: Record<string, string>;
}

/**
 * `snapshots diff`, in ctr's steps: under a fresh lease, mount the two
 * snapshots (an active one as it is, a committed one through a temporary
 * view), have the Diff service compare them into a layer in the content
 * store, and copy the layer to stdout; the lease goes at the end, and
 * with it the layer unless `--keep` labelled it a root.
 */
async function diffCommand(
  conn: Connection,
  snapshotter: string,
  idA: string,
  idB: string,
  opts: DiffOptions,
): Promise<void> {
  const { signal } = conn;
  const leaseId = uniquePart();
  const leased = await temporaryLease(conn, leaseId);
  const snapshots = conn.client(Snapshots);
  const labels = { ...opts.labels };
  if (opts.keep) labels[GC_ROOT_LABEL] = gcRootNow();
  const compare = async (left: Mount[], right: Mount[]) =>
    (await conn.client(Diff).diff({
      left,
      right,
      mediaType: opts.mediaType,
      ref: opts.ref,
      labels,
    }, leased)).diff!;
  // Temporary views are removed whatever happens, errors ignored.
  const views: { key: string; leased: boolean }[] = [];
  const view = async (key: string, parent: string, inLease: boolean) => {
    const { mounts } = await snapshots.view(
      { snapshotter, key, parent },
      leased,
    );
    views.push({ key, leased: inLease });
    return mounts;
  };
  const removeViews = async () => {
    for (const v of views.splice(0).reverse()) {
      // A removal racing the daemon's own clean-up is retried briefly.
      for (let attempt = 0; attempt < 5; attempt++) {
        const removed = await snapshots.remove(
          { snapshotter, key: v.key },
          v.leased ? leased : { signal },
        ).then(() => true, () => false);
        if (removed) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  /** An active snapshot's mounts, or a view's of a committed one. */
  const mountsOf = async (id: string, viewKey: string, inLease: boolean) => {
    const { info } = await snapshots.stat({ snapshotter, key: id }, leased);
    if (info!.kind === Kind.ACTIVE) {
      return (await snapshots.mounts({ snapshotter, key: id }, leased))
        .mounts;
    }
    return await view(viewKey, id, inLease);
  };
  try {
    let desc;
    try {
      if (!idB) {
        const { info } = await snapshots.stat(
          { snapshotter, key: idA },
          leased,
        );
        const lower = await view(
          `${info!.parent}-parent-view-${uniquePart()}`,
          info!.parent,
          false,
        );
        const upper = await mountsOf(
          idA,
          `${idA}-view-${uniquePart()}`,
          false,
        );
        desc = await compare(lower, upper);
      } else {
        const a = await mountsOf(idA, `${idA}-view-key`, true);
        const b = await mountsOf(idB, `${idB}-view-key`, true);
        desc = await compare(a, b);
      }
    } finally {
      await removeViews();
    }
    try {
      for await (const data of readBlob(conn.api, desc.digest)) {
        await writeFull(Deno.stdout, data);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      throw Object.assign(new Error("broken pipe"), {
        code: "berth.brokenPipe",
        exitCode: 141,
      });
    }
  } finally {
    await conn.client(Leases).delete({ id: leaseId }, { signal }).catch(
      () => {},
    );
  }
}
