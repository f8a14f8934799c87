/**
 * `berth ctr snapshots label NAME [KEY=VALUE…]`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { Kind } from "../../../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { parseLabelArgs } from "../../_format.ts";
import { openSnapshots, snapshotterOf, writeText } from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
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
      const { client, signal } = openSnapshots(connect);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const set = Object.fromEntries(
        Object.entries(labels).filter(([, v]) => v !== ""),
      );
      const { info } = paths.length === 0
        ? await client.stat({ snapshotter: snapshotterOf(snapshots), key }, {
          signal,
        })
        : await client.update({
          snapshotter: snapshotterOf(snapshots),
          info: { name: key, kind: Kind.COMMITTED, labels: set },
          updateMask: { paths },
        }, { signal });
      // ctr prints Go's map order, which is random; sorted is one of them.
      const text = Object.entries(info?.labels ?? {}).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0
      ).map(([k, v]) => `${k}=${v}`).join(",");
      await writeText(text + "\n");
    });
}
