/**
 * The mount component: performs containerd {@linkcode Mount}s (tmpfs, bind,
 * overlay with any number of layers), unmounts single, stacked and nested
 * mounts, reads the kernel's mount table, and lends mounts to a callback in a
 * temporary directory.
 *
 * Imports only `src/types` and `src/sys`. System call failures are
 * `SyscallError`s (with `errno`) named after the mount
 * (`mount overlay on /x: No such file or directory`); bad input is a
 * `BerthError`.
 *
 * @module
 */
export type { Mount } from "../types/mod.ts";
export { type ParsedMountOptions, parseMountOptions } from "./options.ts";
export { mount, mountAll, type MountOptions } from "./mount.ts";
export { type Lowerdirs, splitLowerdir } from "./overlay.ts";
export {
  unmount,
  unmountAll,
  type UnmountOptions,
  unmountRecursive,
} from "./unmount.ts";
export {
  isMountPoint,
  lookupMount,
  type MountInfo,
  mountsUnder,
  parseMountInfo,
  readMountInfo,
  type ReadMountInfoOptions,
  unescapeMountInfo,
} from "./mountinfo.ts";
export { readonlyMounts } from "./readonly.ts";
export { resolveInRoot } from "./root_path.ts";
export {
  cleanupTempMounts,
  defaultTempMountRoot,
  TEMP_MOUNT_PREFIX,
  type TempMountOptions,
  withReadonlyTempMount,
  withTempMount,
} from "./temp.ts";
