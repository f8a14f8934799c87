/**
 * `berth ctr snapshots diff [flags] ID_A [ID_B]`: the layer between two snapshots, written to stdout.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { Diff } from "../../../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Leases } from "../../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import {
  Kind,
  Snapshots,
} from "../../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount } from "../../../src/gen/containerd/types/mount_pb.ts";
import { readBlob, writeFull } from "../../../src/client/content.ts";
import { uniquePart } from "../../../src/client/snapshots.ts";
import { parseLabelArgs } from "../../_format.ts";
import { temporaryLease } from "../../_leases.ts";
import {
  GC_ROOT_LABEL,
  gcRootNow,
  LAYER_GZIP,
  snapshotterOf,
} from "../../_snapshots.ts";

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
  // Temporary views are removed whatever happens, errors ignored (as ctr:
  // what is left goes with the lease).
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
      await snapshots.remove(
        { snapshotter, key: v.key },
        v.leased ? leased : { signal },
      ).catch(() => {});
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

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
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
      await diffCommand(conn, snapshotterOf(snapshots), idA, idB ?? "", {
        mediaType: opts.mediaType,
        ref: opts.ref,
        keep: Boolean(opts.keep),
        labels: parseLabelArgs(opts.label, "true"),
      });
    });
}
