/**
 * What the `snapshots` commands share: the snapshotter the group's flag
 * names, the Snapshots client, and ctr's ways of printing snapshots.
 *
 * @module
 */
import type { Command } from "commander";
import {
  type Info,
  Kind,
  Snapshots,
} from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../src/gen/containerd/types/mount_pb.ts";
import { writeFull } from "../src/client/content.ts";
import { DEFAULT_SNAPSHOTTER } from "../src/client/snapshots.ts";
import type { Connection } from "./_client.ts";
import {
  type CtrHelp,
  ctrHelp,
  formatRFC3339Nano,
  goJSON,
  type GoJSONValue,
  goMap,
} from "./_format.ts";

/** The label that keeps a snapshot (or blob) from the garbage collector. */
export const GC_ROOT_LABEL = "containerd.io/gc.root";

/** The layer media type `diff` makes unless told otherwise. */
export const LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

/** ctr's snapshot tables: tabwriter(minwidth 1, tabwidth 8, padding 1, ' '). */
export const SPACES = { minwidth: 1, tabwidth: 8, padding: 1, padchar: " " };

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
export function gcRootNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** Writes all of `text` to stdout. */
export async function writeText(text: string): Promise<void> {
  await writeFull(Deno.stdout, new TextEncoder().encode(text));
}

/**
 * A subcommand's arguments did not fit: ctr then prints its help to
 * stdout and exits 0.
 */
export async function showHelp(help: Omit<CtrHelp, "helpName">, name: string) {
  await writeText(ctrHelp({ ...help, helpName: `ctr snapshots ${name}` }));
}

/** The snapshotter the group's `--snapshotter` flag names. */
export function snapshotterOf(snapshots: Command): string {
  return snapshots.opts().snapshotter || DEFAULT_SNAPSHOTTER;
}

/** The connection and the Snapshots client. */
export function openSnapshots(connect: () => Connection) {
  const conn = connect();
  return { conn, client: conn.client(Snapshots), signal: conn.signal };
}

/** Every snapshot of `snapshotter`, in the order the daemon lists them. */
export async function listSnapshots(
  client: ReturnType<typeof openSnapshots>["client"],
  signal: AbortSignal,
  snapshotter: string,
): Promise<Info[]> {
  const infos: Info[] = [];
  const stream = client.list({ snapshotter }, { signal });
  for await (const resp of stream) infos.push(...resp.info);
  return infos;
}

/** The flags `prepare` and `view` print in their help. */
const TARGET_FLAGS = [
  "--target value, -t value\tmount target path, will print mount, if provided",
  "--mounts\tPrint out snapshot mounts as JSON",
];

/** Adds `prepare` or `view`: an active snapshot or a view on a parent. */
export function addCreateCommand(
  snapshots: Command,
  connect: () => Connection,
  name: "prepare" | "view",
  usage: string,
): void {
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
      const { client, signal } = openSnapshots(connect);
      const request = { snapshotter: snapshotterOf(snapshots), key, parent };
      const { mounts } = name === "prepare"
        ? await client.prepare({
          ...request,
          labels: { [GC_ROOT_LABEL]: gcRootNow() },
        }, { signal })
        : await client.view(request, { signal });
      if (opts.target) await writeText(mountCommands(opts.target, mounts));
      if (opts.mounts) await writeText(goJSON(mountsJSON(mounts)) + "\n");
    });
}
