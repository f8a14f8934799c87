/**
 * The backend snapshotter interface, shaped like containerd's: a store of
 * filesystem snapshots addressed by key, each either active (writable),
 * a view (read-only) or committed (immutable, a possible parent), handed
 * out as {@linkcode Mount}s.
 *
 * Backends are not namespaced: the metadata layer above maps tenants' keys
 * to backend keys, keeps its own labels per namespace and collects garbage.
 *
 * @module
 */
import { invalidArgument, type Mount } from "../types/mod.ts";

/** The kind of a snapshot. */
export type SnapshotKind = "view" | "active" | "committed";

/** containerd's wire numbers of each {@linkcode SnapshotKind}. */
export const SNAPSHOT_KIND_WIRE: Readonly<Record<SnapshotKind, number>> = {
  view: 1,
  active: 2,
  committed: 3,
};

/** The kind with wire number `value`; InvalidArgument for unknown numbers. */
export function snapshotKindFromWire(value: number): SnapshotKind {
  switch (value) {
    case 1:
      return "view";
    case 2:
      return "active";
    case 3:
      return "committed";
  }
  throw invalidArgument(`snapshot kind ${value} unknown`);
}

/** What a snapshotter records of one snapshot. */
export interface SnapshotInfo {
  /** Active, view or committed. */
  kind: SnapshotKind;
  /** Its key (active, view) or name (committed). */
  name: string;
  /** The parent's name; "" when it has none. */
  parent: string;
  /** Its labels; empty values are never stored. */
  labels: Record<string, string>;
  /** When it was created (for committed snapshots: committed). */
  createdAt: Date;
  /** When it was last updated. */
  updatedAt: Date;
}

/** Disk resources a snapshot takes. */
export interface Usage {
  /** Bytes allocated (`st_blocks * 512`, each inode counted once). */
  size: number;
  /** Distinct inodes. */
  inodes: number;
}

/** The fields {@linkcode Snapshotter.update} reads. */
export interface SnapshotUpdate {
  /** The snapshot's key or name. */
  name: string;
  /** The labels to write (all of them, or those the field paths name). */
  labels?: Record<string, string>;
}

/** Options of {@linkcode Snapshotter.prepare}, `view` and `commit`. */
export interface SnapshotOptions {
  /** Labels of the new snapshot; a committed one does not inherit its key's. */
  labels?: Record<string, string>;
}

/** A backend snapshotter. */
export interface Snapshotter {
  /** Its name: `overlayfs`, `native`. */
  readonly name: string;

  /** The info of the snapshot with `key`; NotFound when absent. */
  stat(key: string): Promise<SnapshotInfo>;

  /**
   * Updates the labels of snapshot `info.name`. With no `paths` every label
   * is replaced; `labels` replaces them too; `labels.KEY` sets (or, absent
   * or empty in `info`, deletes) one. Other paths are InvalidArgument.
   */
  update(
    info: SnapshotUpdate,
    paths?: readonly string[],
  ): Promise<SnapshotInfo>;

  /**
   * Disk usage: computed from disk for active snapshots, recorded at commit
   * for committed ones, zero for views.
   */
  usage(key: string): Promise<Usage>;

  /** The mounts of an active snapshot or view; FailedPrecondition otherwise. */
  mounts(key: string): Promise<Mount[]>;

  /**
   * Creates an active snapshot `key` on committed `parent` ("" for none)
   * and returns its mounts. AlreadyExists when `key` is taken, NotFound for
   * a missing parent, InvalidArgument for a parent not committed.
   */
  prepare(
    key: string,
    parent?: string,
    options?: SnapshotOptions,
  ): Promise<Mount[]>;

  /** Like {@linkcode prepare}, for a read-only view. */
  view(
    key: string,
    parent?: string,
    options?: SnapshotOptions,
  ): Promise<Mount[]>;

  /**
   * Commits active snapshot `key` as `name`, recording its usage; `key` is
   * gone afterwards. FailedPrecondition when `key` is not active.
   */
  commit(name: string, key: string, options?: SnapshotOptions): Promise<void>;

  /** Removes a snapshot; FailedPrecondition while it has children. */
  remove(key: string): Promise<void>;

  /**
   * Every snapshot matching any of `filters` (containerd's filter syntax
   * over `kind`, `name`, `parent`, `labels.*`), ordered by name.
   */
  walk(filters?: readonly string[]): AsyncIterable<SnapshotInfo>;

  /** Removes directories on disk no snapshot refers to (crash leftovers). */
  cleanup(): Promise<void>;

  /** Waits for running operations and closes the storage. */
  close(): Promise<void>;
}
