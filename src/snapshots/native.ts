/**
 * The native snapshotter, laid out and mounting as containerd's `native`
 * snapshotter: snapshot `<id>` is a whole tree in `ROOT/snapshots/<id>`,
 * an active snapshot starts as a full copy of its parent, and every mount
 * is a bind mount. It works on any file system, at the cost of copying.
 * A view on a parent has no directory of its own: it binds the parent's
 * read-only.
 *
 * @module
 */
import type { Mount } from "../types/mod.ts";
import { LocalSnapshotter, type LocalSnapshotterOptions } from "./local.ts";
import { copyDir } from "./copy.ts";
import type { SnapshotKind } from "./snapshotter.ts";
import type { SnapshotRecord } from "./storage.ts";

/** The directory of the native snapshotter under the daemon's root. */
export const NATIVE_PLUGIN_DIR = "io.containerd.snapshotter.v1.native";

/** Options of {@linkcode NativeSnapshotter}. */
export interface NativeSnapshotterOptions extends LocalSnapshotterOptions {
  /** The `cp` program that copies parents; `cp` from PATH unless given. */
  cp?: string;
}

/** Snapshots as full directory copies. */
export class NativeSnapshotter extends LocalSnapshotter {
  /** `native`. */
  readonly name = "native";
  protected readonly mountsErrorPrefix = "failed to get snapshot mount";
  #cp: string | undefined;

  /** Opens (creating) the snapshotter at `options.root`. */
  constructor(options: NativeSnapshotterOptions) {
    super(options);
    this.#cp = options.cp;
  }

  protected needsDirectory(
    kind: SnapshotKind,
    parentIds: readonly string[],
  ): boolean {
    return kind === "active" || parentIds.length === 0;
  }

  protected async populate(
    dir: string,
    _kind: SnapshotKind,
    parentIds: readonly string[],
  ): Promise<void> {
    await Deno.chmod(dir, 0o755);
    if (parentIds.length > 0) {
      await copyDir({
        source: this.snapshotDir(parentIds[0]),
        target: dir,
        cp: this.#cp,
      });
    }
  }

  protected usageDir(id: string): string {
    return this.snapshotDir(id);
  }

  protected mountsOf(record: SnapshotRecord): Mount[] {
    const { id, kind, parentIds } = record;
    const source = parentIds.length === 0 || kind === "active"
      ? this.snapshotDir(id)
      : this.snapshotDir(parentIds[0]);
    return [{
      type: "bind",
      source,
      options: ["rbind", kind === "view" ? "ro" : "rw"],
    }];
  }
}
