/**
 * containerd's fstab-style mount options, split into `mount(2)` flags,
 * propagation flags and filesystem data.
 *
 * @module
 */
import { unimplemented } from "../types/mod.ts";
import { MS } from "../sys/mod.ts";

/** Mount options split the way `mount(2)` wants them. */
export interface ParsedMountOptions {
  /** `MS_*` flags for the mount itself (no propagation flags). */
  flags: number;
  /**
   * Propagation to apply afterwards in a separate call: one of `MS_SHARED`,
   * `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE`, with `MS_REC` for the `r…`
   * forms; 0 when no propagation option was given.
   */
  propagation: number;
  /** Options the filesystem interprets (`size=64m`, `lowerdir=…`), in order. */
  data: string[];
}

/** Options that set (`clear: false`) or clear (`clear: true`) flags. */
const FLAGS: Record<string, { clear: boolean; flag: number }> = {
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: MS.I_VERSION },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noexec: { clear: false, flag: MS.NOEXEC },
  noiversion: { clear: true, flag: MS.I_VERSION },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
};

/** Propagation options; the last one given wins. */
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Parses mount options as containerd does: known flag names set or clear
 * `MS_*` flags in order (`ro` then `rw` ends read-write), propagation names
 * become {@linkcode ParsedMountOptions.propagation}, `defaults` is dropped,
 * and everything else is filesystem data.
 *
 * @throws {BerthError} `Unimplemented` for `loop` (loop devices are not
 *   supported).
 */
export function parseMountOptions(
  options: readonly string[],
): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = Object.hasOwn(FLAGS, option) ? FLAGS[option] : undefined;
    if (known) {
      flags = known.clear ? flags & ~known.flag : flags | known.flag;
    } else if (Object.hasOwn(PROPAGATION, option)) {
      propagation = PROPAGATION[option];
    } else if (option === "loop") {
      throw unimplemented(`mount option "loop"`);
    } else if (option !== "defaults" && option !== "") {
      data.push(option);
    }
  }
  return { flags, propagation, data };
}
