/**
 * The kernel's table of mounts, `/proc/self/mountinfo`, as typed records.
 *
 * @module
 */
import { resolve } from "../types/path.ts";
import { invalidArgument, notFound } from "../types/mod.ts";

/** One line of `/proc/PID/mountinfo` (see proc(5)). */
export interface MountInfo {
  /** Mount ID (may be reused after unmount). */
  id: number;
  /** ID of the parent mount (itself for the namespace's root). */
  parent: number;
  /** Major device number of `st_dev` for files on this filesystem. */
  major: number;
  /** Minor device number of `st_dev`. */
  minor: number;
  /** The directory of the filesystem mounted here (`/` for whole ones). */
  root: string;
  /** Where it is mounted, relative to the process's root. */
  mountPoint: string;
  /** Per-mount options: `rw`, `nosuid`, `relatime` … */
  options: string[];
  /** Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  optional: string[];
  /** Filesystem type, `type[.subtype]`. */
  fsType: string;
  /** Filesystem-specific source, or `none`. */
  source: string;
  /** Per-superblock options: `rw`, `size=…`, `lowerdir=…` … */
  superOptions: string[];
}

/**
 * Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012`
 * newline, `\134` backslash, `\054` comma …). A backslash not followed by
 * three octal digits is kept as is.
 */
export function unescapeMountInfo(field: string): string {
  if (!field.includes("\\")) return field;
  const bytes: number[] = [];
  const raw = new TextEncoder().encode(field);
  for (let i = 0; i < raw.length; i++) {
    const octal = raw[i] === 0x5c && i + 3 < raw.length &&
      [1, 2, 3].every((k) => raw[i + k] >= 0x30 && raw[i + k] <= 0x37);
    if (octal) {
      const value = (raw[i + 1] - 0x30) * 64 + (raw[i + 2] - 0x30) * 8 +
        (raw[i + 3] - 0x30);
      if (value <= 0xff) {
        bytes.push(value);
        i += 3;
        continue;
      }
    }
    bytes.push(raw[i]);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function splitOptions(field: string): string[] {
  return field === "" ? [] : field.split(",").map(unescapeMountInfo);
}

/**
 * Parses the text of a `mountinfo` file.
 *
 * @throws {BerthError} `InvalidArgument` for a malformed line.
 */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (separator < 0 || separator + 3 >= fields.length) {
      throw invalidArgument(`mountinfo line ${JSON.stringify(line)}`);
    }
    const device = fields[2].split(":");
    if (device.length !== 2) {
      throw invalidArgument(`mountinfo line ${JSON.stringify(line)}`);
    }
    out.push({
      id: Number(fields[0]),
      parent: Number(fields[1]),
      major: Number(device[0]),
      minor: Number(device[1]),
      root: unescapeMountInfo(fields[3]),
      mountPoint: unescapeMountInfo(fields[4]),
      options: splitOptions(fields[5]),
      optional: fields.slice(6, separator),
      fsType: unescapeMountInfo(fields[separator + 1]),
      source: unescapeMountInfo(fields[separator + 2]),
      superOptions: splitOptions(fields.slice(separator + 3).join(" ")),
    });
  }
  return out;
}

/** Options for reading the mount table. */
export interface ReadMountInfoOptions {
  /** Whose table to read; default this process (`self`). */
  pid?: number;
}

/** The current mount table, in the kernel's order (parents before children). */
export function readMountInfo(options: ReadMountInfoOptions = {}): MountInfo[] {
  const pid = options.pid ?? "self";
  return parseMountInfo(Deno.readTextFileSync(`/proc/${pid}/mountinfo`));
}

/** `path` with symlinks resolved when it exists, else made absolute. */
export function canonicalPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The mounts at `prefix` or anywhere below it, in the kernel's order.
 * `prefix` is canonicalized first (mountinfo paths have no symlinks).
 */
export function mountsUnder(
  prefix: string,
  table: readonly MountInfo[] = readMountInfo(),
): MountInfo[] {
  const root = canonicalPath(prefix);
  if (root === "/") return [...table];
  return table.filter((m) =>
    m.mountPoint === root || m.mountPoint.startsWith(`${root}/`)
  );
}

/**
 * True when `path` is a mount point (bind mounts of a directory onto itself
 * included). False when it does not exist.
 */
export function isMountPoint(path: string): boolean {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch {
    return false;
  }
  if (real === "/") return true;
  return readMountInfo().some((m) => m.mountPoint === real);
}

/**
 * The mount `path` lives on: the one with the longest mount point that is
 * `path` or a parent of it, the topmost when mounts are stacked.
 *
 * @throws {BerthError} `NotFound` when no mount contains it.
 */
export function lookupMount(path: string): MountInfo {
  const real = canonicalPath(path);
  let best: MountInfo | undefined;
  for (const m of readMountInfo()) {
    const contains = m.mountPoint === "/" || m.mountPoint === real ||
      real.startsWith(`${m.mountPoint}/`);
    if (contains && (!best || m.mountPoint.length >= best.mountPoint.length)) {
      best = m;
    }
  }
  if (!best) throw notFound(`mount info for ${JSON.stringify(path)}`);
  return best;
}
