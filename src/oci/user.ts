/**
 * Users and groups of a container's root filesystem: /etc/passwd and
 * /etc/group read from inside the rootfs, symlinks resolved within it.
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";

/** An /etc/passwd entry. */
export interface PasswdEntry {
  /** User name. */
  name: string;
  /** User id. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** Home directory. */
  home: string;
  /** Login shell. */
  shell: string;
}

/** An /etc/group entry. */
export interface GroupEntry {
  /** Group name. */
  name: string;
  /** Group id. */
  gid: number;
  /** Member user names. */
  members: string[];
}

const MAX_SYMLINKS = 255;

/**
 * Resolves `path` inside `root` as if `root` were `/`: symlinks (absolute or
 * relative) and `..` never leave it. The result need not exist.
 */
export async function resolveInRoot(
  root: string,
  path: string,
): Promise<string> {
  const base = root.replace(/\/+$/, "") || "/";
  const pending = path.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = `${base}/${[...done, part].join("/")}`;
    let target: string | undefined;
    try {
      if ((await Deno.lstat(candidate)).isSymlink) {
        target = await Deno.readLink(candidate);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw new BerthError(Code.InvalidArgument, `${path}: too many symlinks`);
    }
    if (target.startsWith("/")) done.length = 0;
    pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
  }
  return `${base}/${done.join("/")}`;
}

async function readRootFile(
  root: string,
  path: string,
): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(await resolveInRoot(root, path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function lines(text: string): string[][] {
  return text.split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

function id(field: string | undefined): number {
  const n = Number(field);
  return field !== undefined && /^\d+$/.test(field) ? n : 0;
}

/** Parses /etc/passwd text. */
export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((f) => ({
    name: f[0],
    uid: id(f[2]),
    gid: id(f[3]),
    home: f[5] ?? "",
    shell: f[6] ?? "",
  }));
}

/** Parses /etc/group text. */
export function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((f) => ({
    name: f[0],
    gid: id(f[2]),
    members: (f[3] ?? "").split(",").map((m) => m.trim()).filter((m) => m),
  }));
}

/** The rootfs's users; undefined when it has no /etc/passwd. */
export async function readPasswd(
  root: string,
): Promise<PasswdEntry[] | undefined> {
  const text = await readRootFile(root, "/etc/passwd");
  return text === undefined ? undefined : parsePasswd(text);
}

/** The rootfs's groups; undefined when it has no /etc/group. */
export async function readGroup(
  root: string,
): Promise<GroupEntry[] | undefined> {
  const text = await readRootFile(root, "/etc/group");
  return text === undefined ? undefined : parseGroup(text);
}
