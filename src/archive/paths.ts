/**
 * Names inside a root directory, resolved the way a chroot would see them.
 *
 * Archive names are cleaned as if absolute, so `..` can never climb above
 * the root and `/etc/x` means `ROOT/etc/x` (containerd's behaviour: contain,
 * do not reject). Existing components are then checked one by one with
 * `lstat`; a symbolic link among them is either resolved inside the root
 * (like continuity's `RootPath`: absolute targets restart at the root, `..`
 * stops at it) or refused, as the caller chooses. The last component is
 * never resolved: callers look at it with `lstat` and never follow it.
 *
 * @module
 */

/** The most symbolic links followed for one name (as continuity). */
export const MAX_SYMLINKS = 255;

/**
 * The components of `name` after cleaning it as an absolute path: empty and
 * `.` components dropped, `..` removing the previous one and stopping at the
 * root. An empty list means the root itself.
 */
export function cleanComponents(name: string): string[] {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

/** Why {@linkcode resolveInRoot} could not resolve a name. */
export class ResolveError extends Error {
  /** What went wrong. */
  readonly reason: "symlink" | "notdir" | "loop";
  /** The offending component's path, relative to the root. */
  readonly at: string;
  /** Creates the error. */
  constructor(reason: "symlink" | "notdir" | "loop", at: string) {
    const text = {
      symlink: `path goes through symbolic link "${at}"`,
      notdir: `"${at}" is not a directory`,
      loop: `too many levels of symbolic links at "${at}"`,
    }[reason];
    super(text);
    this.name = "ResolveError";
    this.reason = reason;
    this.at = at;
  }
}

/** Options of {@linkcode resolveInRoot}. */
export interface ResolveOptions {
  /** Resolve symlinks inside the root (true) or refuse them (false). */
  followSymlinks: boolean;
  /**
   * Absolute paths known to be real directories (not symlinks) right now;
   * checked before `lstat` and extended with what is found. The caller must
   * clear it whenever it removes or replaces anything.
   */
  knownDirs?: Set<string>;
}

/** Where a directory name resolved to. */
export interface Resolved {
  /** Components relative to the root, free of symlinks. */
  components: string[];
  /** The absolute path (`root` joined with the components). */
  path: string;
  /** Index of the first component that does not exist (length if all do). */
  missingFrom: number;
}

/**
 * Resolves directory components (already cleaned) inside `root`. Every
 * existing component must be a directory; symlinks are followed inside the
 * root or refused per `options.followSymlinks`.
 *
 * @throws {ResolveError} on a refused symlink, a non-directory component, or
 * more than {@linkcode MAX_SYMLINKS} links.
 */
export function resolveInRoot(
  root: string,
  components: readonly string[],
  options: ResolveOptions,
): Resolved {
  const known = options.knownDirs;
  // Pending components, last one first (pop() takes the next).
  const pending = components.slice().reverse();
  const out: string[] = [];
  let path = root;
  // Components at depth >= missingDepth were found missing (or lie below one).
  let missingDepth = Infinity;
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) continue;
      out.pop();
      path = joinRoot(root, out);
      if (out.length < missingDepth) missingDepth = Infinity;
      continue;
    }
    out.push(part);
    path = path === "/" ? `/${part}` : `${path}/${part}`;
    if (out.length > missingDepth) continue;
    if (known?.has(path)) continue;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missingDepth = out.length;
      continue;
    }
    if (info.isDirectory) {
      known?.add(path);
      continue;
    }
    const at = out.join("/");
    if (!info.isSymlink) throw new ResolveError("notdir", at);
    if (!options.followSymlinks) throw new ResolveError("symlink", at);
    if (++links > MAX_SYMLINKS) throw new ResolveError("loop", at);
    const target = Deno.readLinkSync(path);
    out.pop();
    if (target.startsWith("/")) out.length = 0;
    path = joinRoot(root, out);
    const parts = target.split("/");
    for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
  }
  const missingFrom = missingDepth === Infinity ? out.length : missingDepth - 1;
  return { components: out, path, missingFrom };
}

/** `root` joined with relative components. */
export function joinRoot(root: string, components: readonly string[]): string {
  if (components.length === 0) return root;
  const rest = components.join("/");
  return root === "/" ? `/${rest}` : `${root}/${rest}`;
}
