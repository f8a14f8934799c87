/**
 * The double walk behind a diff: `lower` and `upper` are read side by side,
 * each directory's names in byte order, depth first, and every difference is
 * reported in that order (the order of containerd's continuity `fs.Changes`).
 *
 * Nothing is followed through a symlink. A path deleted from `upper` is
 * reported once, not its contents; a directory that became something else
 * hides its old contents the same way.
 *
 * @module
 */
import { type FileStat, FileType, fileType, lstatx } from "../sys/statx.ts";
import { readXattrs } from "./_xattr.ts";
import { BerthError, Code } from "../types/errors.ts";
import { compareUTF8 } from "../types/utf8_order.ts";

/**
 * What happened to a path: the three changes, and `unmodified` for a file
 * left alone that shares its inode with others (a layer writer needs those to
 * keep hard links whole).
 */
export type WalkKind = "add" | "modify" | "delete" | "unmodified";

/** One step of the walk. */
export interface WalkChange {
  /** What happened. */
  kind: WalkKind;
  /** The path inside the trees, starting with `/`. */
  path: string;
  /** The `upper` stat; for `delete`, the `lower` one. */
  stat: FileStat;
}

/** How the walk compares. */
export interface WalkOptions {
  /** Which extended attributes count. */
  xattrs: (name: string) => boolean;
}

const CHUNK = 128 * 1024;

/** `root` joined with `/`-rooted `path`. */
export function joinRoot(root: string, path: string): string {
  return root === "/" ? path : root + path;
}

/** `root` without trailing slashes (`/` stays `/`). */
export function cleanRoot(root: string): string {
  const trimmed = root.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

async function sortedNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort(compareUTF8);
}

function isDir(stat: FileStat): boolean {
  return fileType(stat.mode) === FileType.S_IFDIR;
}

/**
 * Walks `lower` (or nothing, when `null`) against `upper`, yielding every
 * change in walk order.
 */
export async function* walkChanges(
  lower: string | null,
  upper: string,
  options: WalkOptions,
): AsyncGenerator<WalkChange> {
  const upperRoot = cleanRoot(upper);
  const lowerRoot = lower === null ? null : cleanRoot(lower);
  const roots = lowerRoot === null ? [upperRoot] : [lowerRoot, upperRoot];
  for (const root of roots) checkRoot(root);
  yield* walkDir(lowerRoot, upperRoot, "", lowerRoot !== null, options);
}

function checkRoot(root: string): void {
  let stat: FileStat;
  try {
    stat = lstatx(root);
  } catch (err) {
    throw new BerthError(Code.NotFound, `diff root "${root}"`, { cause: err });
  }
  if (!isDir(stat)) {
    throw new BerthError(
      Code.InvalidArgument,
      `diff root "${root}" is not a directory`,
    );
  }
}

async function* walkDir(
  lowerRoot: string | null,
  upperRoot: string,
  dir: string,
  inLower: boolean,
  options: WalkOptions,
): AsyncGenerator<WalkChange> {
  const lowerNames = inLower && lowerRoot !== null
    ? await sortedNames(joinRoot(lowerRoot, dir || "/"))
    : [];
  const upperNames = await sortedNames(joinRoot(upperRoot, dir || "/"));
  let i = 0;
  let j = 0;
  while (i < lowerNames.length || j < upperNames.length) {
    const order = i >= lowerNames.length
      ? 1
      : j >= upperNames.length
      ? -1
      : compareUTF8(lowerNames[i], upperNames[j]);
    if (order < 0) {
      const path = `${dir}/${lowerNames[i++]}`;
      yield { kind: "delete", path, stat: lstatx(joinRoot(lowerRoot!, path)) };
      continue;
    }
    const path = `${dir}/${upperNames[j++]}`;
    const upperStat = lstatx(joinRoot(upperRoot, path));
    if (order > 0) {
      yield { kind: "add", path, stat: upperStat };
      if (isDir(upperStat)) {
        yield* walkDir(lowerRoot, upperRoot, path, false, options);
      }
      continue;
    }
    i++;
    const lowerPath = joinRoot(lowerRoot!, path);
    const upperPath = joinRoot(upperRoot, path);
    const lowerStat = lstatx(lowerPath);
    const same = await sameFile(
      lowerPath,
      lowerStat,
      upperPath,
      upperStat,
      options,
    );
    if (!same) {
      yield { kind: "modify", path, stat: upperStat };
    } else if (!isDir(upperStat) && upperStat.nlink > 1) {
      yield { kind: "unmodified", path, stat: upperStat };
    }
    if (isDir(upperStat)) {
      yield* walkDir(lowerRoot, upperRoot, path, isDir(lowerStat), options);
    }
  }
}

/**
 * Whether a path present in both trees is unchanged, by containerd's rules:
 * the same inode is the same file; otherwise type, permissions, owner and
 * device must match, and the extended attributes; for non-directories also
 * the size and the mtime to the nanosecond. When both mtimes have no
 * nanoseconds (file systems or archives that keep whole seconds), contents
 * are compared. Symlink targets are always compared.
 */
export async function sameFile(
  lowerPath: string,
  lower: FileStat,
  upperPath: string,
  upper: FileStat,
  options: WalkOptions,
): Promise<boolean> {
  if (lower.dev === upper.dev && lower.ino === upper.ino) return true;
  if (
    lower.mode !== upper.mode || lower.uid !== upper.uid ||
    lower.gid !== upper.gid || lower.rdevMajor !== upper.rdevMajor ||
    lower.rdevMinor !== upper.rdevMinor
  ) return false;
  if (!sameXattrs(lowerPath, upperPath, options)) return false;
  if (isDir(lower)) return true;
  if (lower.size !== upper.size || lower.mtimeSec !== upper.mtimeSec) {
    return false;
  }
  if (lower.mtimeNsec !== upper.mtimeNsec) return false;
  if (fileType(lower.mode) === FileType.S_IFLNK) {
    return await Deno.readLink(lowerPath) === await Deno.readLink(upperPath);
  }
  if (lower.mtimeNsec !== 0 || lower.size === 0) return true;
  return await sameContent(lowerPath, upperPath);
}

function sameXattrs(
  lowerPath: string,
  upperPath: string,
  options: WalkOptions,
): boolean {
  const a = readXattrs(lowerPath, options.xattrs);
  const b = readXattrs(upperPath, options.xattrs);
  if (a.length !== b.length) return false;
  return a.every(([name, value], k) =>
    name === b[k][0] && equalBytes(value, b[k][1])
  );
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let k = 0; k < a.byteLength; k++) if (a[k] !== b[k]) return false;
  return true;
}

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buf.byteLength) {
    const n = await file.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  using fa = await Deno.open(a);
  using fb = await Deno.open(b);
  const ba = new Uint8Array(CHUNK);
  const bb = new Uint8Array(CHUNK);
  for (;;) {
    const [na, nb] = await Promise.all([readFull(fa, ba), readFull(fb, bb)]);
    if (na !== nb) return false;
    if (!equalBytes(ba.subarray(0, na), bb.subarray(0, nb))) return false;
    if (na < CHUNK) return true;
  }
}
