/**
 * The backend snapshotters: `overlayfs` (layers as overlay mounts) and
 * `native` (full copies, bind mounts), each keeping its records in a
 * SQLite file in its root, in containerd's on-disk layout. Not namespaced;
 * the metadata layer adds namespaces, its own labels and garbage
 * collection.
 *
 * @module
 */
export * from "./snapshotter.ts";
export * from "./overlay.ts";
export * from "./native.ts";
export { LocalSnapshotter, type LocalSnapshotterOptions } from "./local.ts";
export {
  MetaStore,
  type SnapshotRecord,
  type StoredSnapshot,
} from "./storage.ts";
export { diskUsage } from "./usage.ts";
export { copyDir, type CopyDirOptions } from "./copy.ts";
export {
  needsUserXAttr,
  runningInUserNS,
  supportsIndex,
} from "./overlay_check.ts";
