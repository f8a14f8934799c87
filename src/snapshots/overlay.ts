/**
 * The overlay snapshotter, laid out and mounting as containerd's
 * `overlayfs` snapshotter: snapshot `<id>` keeps its changes in
 * `ROOT/snapshots/<id>/fs` (the overlay's upper directory, or the whole
 * tree of a snapshot without parent) and, when active, overlayfs' work
 * directory in `ROOT/snapshots/<id>/work`. Parents are lower directories,
 * nearest first.
 *
 * @module
 */
import { join } from "node:path";
import type { Mount } from "../types/mod.ts";
import { LocalSnapshotter, type LocalSnapshotterOptions } from "./local.ts";
import { needsUserXAttr, supportsIndex } from "./overlay_check.ts";
import type { SnapshotInfo, SnapshotKind } from "./snapshotter.ts";
import type { SnapshotRecord } from "./storage.ts";

/** The directory of the overlay snapshotter under the daemon's root. */
export const OVERLAY_PLUGIN_DIR = "io.containerd.snapshotter.v1.overlayfs";

/**
 * The label {@linkcode OverlaySnapshotterOptions.upperdirLabel} shows on
 * every snapshot: the path of its upper directory.
 */
export const OVERLAY_UPPERDIR_LABEL = "containerd.io/snapshot/overlay.upperdir";

/** Options of {@linkcode OverlaySnapshotter}. */
export interface OverlaySnapshotterOptions extends LocalSnapshotterOptions {
  /**
   * Leave removed snapshots' directories for {@linkcode
   * OverlaySnapshotter.cleanup} instead of deleting them at once.
   */
  asyncRemove?: boolean;
  /** Show {@linkcode OVERLAY_UPPERDIR_LABEL} on every snapshot's info. */
  upperdirLabel?: boolean;
  /** Add `index=off` to overlay mounts; detected from the kernel unless given. */
  indexOff?: boolean;
  /** Add `userxattr` to overlay mounts; detected (rootless) unless given. */
  userxattr?: boolean;
}

/** Snapshots as overlayfs layers. */
export class OverlaySnapshotter extends LocalSnapshotter {
  /** `overlayfs`. */
  readonly name = "overlayfs";
  /** Whether overlay mounts carry `index=off`. */
  readonly indexOff: boolean;
  /** Whether overlay mounts carry `userxattr`. */
  readonly userxattr: boolean;
  protected readonly mountsErrorPrefix = "failed to get active mount";
  #asyncRemove: boolean;
  #upperdirLabel: boolean;

  /** Opens (creating) the snapshotter at `options.root`. */
  constructor(options: OverlaySnapshotterOptions) {
    super(options);
    this.#asyncRemove = options.asyncRemove ?? false;
    this.#upperdirLabel = options.upperdirLabel ?? false;
    this.indexOff = options.indexOff ?? supportsIndex();
    this.userxattr = options.userxattr ?? needsUserXAttr(this.root);
  }

  /** The upper directory (`fs`) of snapshot `id`. */
  upperPath(id: string): string {
    return join(this.snapshotDir(id), "fs");
  }

  /** The work directory of snapshot `id`. */
  workPath(id: string): string {
    return join(this.snapshotDir(id), "work");
  }

  protected override get asyncRemove(): boolean {
    return this.#asyncRemove;
  }

  protected needsDirectory(): boolean {
    return true;
  }

  /**
   * Makes `fs` (and `work`): a few directory calls, made synchronously on
   * a container's start path rather than as a worker-thread round trip
   * each.
   */
  protected populate(
    dir: string,
    kind: SnapshotKind,
    parentIds: readonly string[],
  ): void {
    const fs = join(dir, "fs");
    Deno.mkdirSync(fs);
    Deno.chmodSync(fs, 0o755);
    if (kind === "active") {
      const work = join(dir, "work");
      Deno.mkdirSync(work);
      Deno.chmodSync(work, 0o711);
    }
    if (parentIds.length > 0) {
      // The new layer's root starts owned like the parent's.
      const parent = Deno.statSync(this.upperPath(parentIds[0]));
      Deno.chownSync(fs, parent.uid, parent.gid);
    }
  }

  protected usageDir(id: string): string {
    return this.upperPath(id);
  }

  protected override decorate(info: SnapshotInfo, id: string): SnapshotInfo {
    if (this.#upperdirLabel) {
      info.labels = {
        ...info.labels,
        [OVERLAY_UPPERDIR_LABEL]: this.upperPath(id),
      };
    }
    return info;
  }

  protected mountsOf(record: SnapshotRecord): Mount[] {
    const { id, kind, parentIds } = record;
    if (parentIds.length === 0) {
      // Overlay needs a lower directory: a lone layer is a bind mount.
      return [{
        type: "bind",
        source: this.upperPath(id),
        options: [kind === "view" ? "ro" : "rw", "rbind"],
      }];
    }
    if (kind === "view" && parentIds.length === 1) {
      return [{
        type: "bind",
        source: this.upperPath(parentIds[0]),
        options: ["ro", "rbind"],
      }];
    }
    const options: string[] = [];
    if (this.indexOff) options.push("index=off");
    if (this.userxattr) options.push("userxattr");
    if (kind === "active") {
      options.push(
        `workdir=${this.workPath(id)}`,
        `upperdir=${this.upperPath(id)}`,
      );
    }
    const lower = parentIds.map((parent) => this.upperPath(parent)).join(":");
    options.push(`lowerdir=${lower}`);
    return [{ type: "overlay", source: "overlay", options }];
  }
}
