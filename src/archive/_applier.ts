/**
 * Writes checked layer entries into a root directory, one at a time, with
 * OCI whiteout semantics and without ever writing outside the root.
 *
 * Rules (containerd's `applyNaive`, made strict where a layer can only be
 * malicious):
 * - names are contained (see `paths.ts`); parent symlinks resolve inside
 *   the root; the last component is never followed (creation uses O_EXCL,
 *   `mkdir`, `symlink`, `link` and `mknod`, which do not follow; owners,
 *   modes and times use the no-follow calls);
 * - an existing entry is removed first, unless both are directories (then
 *   only the metadata changes);
 * - `.wh.NAME` removes NAME; `.wh..wh..opq` removes everything in its
 *   directory that this layer did not write (nor needed as a parent of
 *   what it wrote). Whiteouts of `.`, `..` or the root, and whiteouts whose
 *   directory goes through a symlink, are refused. A plain whiteout creates
 *   no directories (containerd creates its parents); an opaque marker
 *   creates its directory;
 * - hardlink targets are contained like names and must not go through a
 *   symlink; a link to a directory is refused;
 * - directory times are set last, after their children were written.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import {
  FsErrno,
  lchmod,
  lchown,
  lsetxattr,
  lutimes,
  mknod,
  type Timespec,
} from "../sys/fsx.ts";
import { SyscallError } from "../sys/libc.ts";
import { FileType } from "../sys/statx.ts";
import { BerthError, Code, invalidArgument } from "../types/mod.ts";
import { entrySubject, type LayerEntry } from "./_entry.ts";
import {
  cleanComponents,
  joinRoot,
  type Resolved,
  ResolveError,
  resolveInRoot,
} from "./paths.ts";

/** The prefix that marks a whiteout. */
export const WHITEOUT_PREFIX = ".wh.";
/** The name that makes its directory opaque. */
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** Options of {@linkcode EntryApplier}. */
export interface EntryApplierOptions {
  /** Whether character and block devices may be created. */
  allowDevices: boolean;
  /** Where warnings (ignored xattrs, skipped entries) go. */
  logger: Logger;
}

interface DirTimes {
  components: string[];
  atime: Timespec;
  mtime: Timespec;
}

/** Applies entries to one root; create one per layer. */
export class EntryApplier {
  readonly #root: string;
  readonly #options: EntryApplierOptions;
  /** Real directories (no symlinks on the way) right now; cleared on removal. */
  readonly #knownDirs = new Set<string>();
  /** Paths written by this layer, and their ancestors: opaque dirs keep them. */
  readonly #written = new Set<string>();
  /** Directories this layer created (so holding only what it wrote); cleared on removal. */
  readonly #fresh = new Set<string>();
  readonly #dirs: DirTimes[] = [];
  readonly #content = new ContentWriter();

  /** `root` must be an absolute, symlink-free path to a directory. */
  constructor(root: string, options: EntryApplierOptions) {
    this.#root = root;
    this.#options = options;
  }

  /**
   * Applies one entry; `data` is its content (drained here whatever the
   * type, as the tar reader needs).
   */
  async apply(
    entry: LayerEntry,
    data: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const subject = entrySubject(entry.name);
    try {
      const written = await this.#applyEntry(entry, data, subject);
      if (!written) await drain(data);
    } catch (err) {
      throw asBerthError(subject, err);
    }
  }

  /** Sets directory times, now that nothing more is written in them. */
  finish(): void {
    const real = new Map<string, boolean>();
    for (const dir of this.#dirs) {
      if (!this.#isRealDir(dir.components, real)) continue;
      const path = joinRoot(this.#root, dir.components);
      try {
        lutimes(path, dir.atime, dir.mtime);
      } catch (err) {
        throw asBerthError(`layer directory ${JSON.stringify(path)}`, err);
      }
    }
  }

  /** Returns true when `data` was consumed. */
  async #applyEntry(
    entry: LayerEntry,
    data: AsyncIterable<Uint8Array>,
    subject: string,
  ): Promise<boolean> {
    const components = cleanComponents(entry.name);
    if (components.length === 0) {
      this.#options.logger.debug("layer entry resolves to the root: ignored", {
        entry: entry.name,
      });
      return false;
    }
    const base = components[components.length - 1];
    const parentComponents = components.slice(0, -1);
    if (base === WHITEOUT_OPAQUE) {
      await this.#opaque(parentComponents, subject);
      return false;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      await this.#whiteout(
        parentComponents,
        base.slice(WHITEOUT_PREFIX.length),
        subject,
      );
      return false;
    }

    const parent = this.#resolve(parentComponents, true, subject, "parent");
    this.#makeParents(parent);
    const path = joinRoot(this.#root, [...parent.components, base]);

    // In a directory this layer created, only names it wrote can exist.
    const existing = this.#fresh.has(parent.path) && !this.#written.has(path)
      ? null
      : lstatOrNull(path);
    if (existing && !(existing.isDirectory && entry.type === "directory")) {
      await this.#remove(path);
    }

    let consumed = false;
    let isSymlink = entry.type === "symlink";
    switch (entry.type) {
      case "directory":
        if (!existing?.isDirectory) {
          Deno.mkdirSync(path, { mode: 0o700 });
          this.#fresh.add(path);
        }
        this.#knownDirs.add(path);
        this.#dirs.push({
          components: [...parent.components, base],
          atime: entry.atime,
          mtime: entry.mtime,
        });
        break;
      case "file":
        await this.#content.write(path, data);
        consumed = true;
        break;
      case "symlink":
        Deno.symlinkSync(entry.linkname, path);
        break;
      case "link":
        isSymlink = this.#hardlink(entry, path, subject);
        break;
      case "character-device":
      case "block-device":
        if (!this.#options.allowDevices) {
          throw invalidArgument(`${subject}: device nodes are not allowed`);
        }
        mknod(path, {
          type: entry.type === "block-device"
            ? FileType.S_IFBLK
            : FileType.S_IFCHR,
          mode: entry.mode,
          major: entry.devmajor,
          minor: entry.devminor,
        });
        break;
      case "fifo":
        mknod(path, { type: FileType.S_IFIFO, mode: entry.mode });
        break;
    }

    // Owner first: chown clears setuid/setgid and file capabilities.
    lchown(path, entry.uid, entry.gid);
    this.#setXattrs(path, entry, isSymlink, subject);
    if (!isSymlink) lchmod(path, entry.mode);
    if (entry.type !== "directory") lutimes(path, entry.atime, entry.mtime);
    this.#recordWritten(path);
    return consumed;
  }

  /** Creates a hardlink; returns true when it links a symlink. */
  #hardlink(entry: LayerEntry, path: string, subject: string): boolean {
    const components = cleanComponents(entry.linkname);
    const quoted = JSON.stringify(entry.linkname);
    if (components.length === 0) {
      throw invalidArgument(
        `${subject}: hardlink target ${quoted} is the root`,
      );
    }
    const parent = this.#resolve(
      components.slice(0, -1),
      false,
      subject,
      `hardlink target ${quoted}`,
    );
    const notFound = () =>
      invalidArgument(`${subject}: hardlink target ${quoted} not found`);
    if (parent.missingFrom < parent.components.length) throw notFound();
    const target = joinRoot(this.#root, [
      ...parent.components,
      components[components.length - 1],
    ]);
    const info = lstatOrNull(target);
    if (!info) throw notFound();
    if (info.isDirectory) {
      throw invalidArgument(
        `${subject}: hardlink target ${quoted} is a directory`,
      );
    }
    // link(2) does not follow a symlink target: the link is to the symlink.
    Deno.linkSync(target, path);
    return info.isSymlink;
  }

  async #whiteout(
    parentComponents: string[],
    name: string,
    subject: string,
  ): Promise<void> {
    if (name === "" || name === "." || name === "..") {
      throw invalidArgument(`${subject}: invalid whiteout name`);
    }
    let parent: Resolved;
    try {
      parent = resolveInRoot(this.#root, parentComponents, {
        followSymlinks: false,
        knownDirs: this.#knownDirs,
      });
    } catch (err) {
      if (err instanceof ResolveError && err.reason === "notdir") return;
      throw resolveFailure(subject, "whiteout", err);
    }
    if (parent.missingFrom < parent.components.length) return;
    const target = joinRoot(this.#root, [...parent.components, name]);
    if (lstatOrNull(target)) await this.#remove(target);
  }

  async #opaque(parentComponents: string[], subject: string): Promise<void> {
    let dir: Resolved;
    try {
      dir = resolveInRoot(this.#root, parentComponents, {
        followSymlinks: false,
        knownDirs: this.#knownDirs,
      });
    } catch (err) {
      throw resolveFailure(subject, "opaque whiteout", err);
    }
    this.#makeParents(dir);
    await this.#prune(dir.path);
  }

  /** Removes everything under `dir` this layer did not write. */
  async #prune(dir: string): Promise<void> {
    const children = [...Deno.readDirSync(dir)];
    for (const child of children) {
      const path = dir === "/" ? `/${child.name}` : `${dir}/${child.name}`;
      if (this.#written.has(path)) {
        // readDir reports the entry itself: a symlink is never descended.
        if (child.isDirectory) await this.#prune(path);
      } else {
        await this.#remove(path);
      }
    }
  }

  #resolve(
    components: string[],
    followSymlinks: boolean,
    subject: string,
    what: string,
  ): Resolved {
    try {
      return resolveInRoot(this.#root, components, {
        followSymlinks,
        knownDirs: this.#knownDirs,
      });
    } catch (err) {
      throw resolveFailure(subject, what, err);
    }
  }

  /** Creates the missing directories of a resolved path (0755, as containerd). */
  #makeParents(resolved: Resolved): void {
    for (let i = resolved.missingFrom; i < resolved.components.length; i++) {
      const path = joinRoot(this.#root, resolved.components.slice(0, i + 1));
      Deno.mkdirSync(path, { mode: 0o700 });
      lchmod(path, 0o755);
      this.#knownDirs.add(path);
      this.#fresh.add(path);
      this.#recordWritten(path);
    }
  }

  async #remove(path: string): Promise<void> {
    this.#knownDirs.clear();
    this.#fresh.clear();
    // Removes a symlink itself, never what it points to.
    await Deno.remove(path, { recursive: true });
  }

  #recordWritten(path: string): void {
    let p = path;
    while (p.length > this.#root.length && !this.#written.has(p)) {
      this.#written.add(p);
      p = p.slice(0, p.lastIndexOf("/"));
    }
  }

  #setXattrs(
    path: string,
    entry: LayerEntry,
    isSymlink: boolean,
    subject: string,
  ): void {
    for (const [name, value] of entry.xattrs) {
      const warn = (why: string) =>
        this.#options.logger.warn("ignored xattr in layer", {
          entry: entry.name,
          xattr: name,
          reason: why,
        });
      if (name.startsWith("trusted.")) {
        warn("trusted.* attributes are not applied from archives");
        continue;
      }
      try {
        lsetxattr(path, name, value);
      } catch (err) {
        if (!(err instanceof SyscallError)) throw err;
        const onSpecial = isSymlink ||
          (entry.type !== "file" && entry.type !== "directory" &&
            entry.type !== "link");
        if (
          err.errno === FsErrno.EPERM && name.startsWith("user.") && onSpecial
        ) {
          // user.* attributes exist only on regular files and directories.
          warn(err.message);
          continue;
        }
        if (err.errno === FsErrno.ENOTSUP) {
          warn(err.message);
          continue;
        }
        throw new BerthError(
          Code.Unknown,
          `${subject}: setting xattr ${JSON.stringify(name)}: ${err.message}`,
          { cause: err },
        );
      }
    }
  }

  /** True when every component is a real directory (no symlink). */
  #isRealDir(components: string[], memo: Map<string, boolean>): boolean {
    let path = this.#root;
    for (const part of components) {
      path = path === "/" ? `/${part}` : `${path}/${part}`;
      let real = memo.get(path);
      if (real === undefined) {
        const info = lstatOrNull(path);
        real = info !== null && info.isDirectory;
        memo.set(path, real);
      }
      if (!real) return false;
    }
    return true;
  }
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Content is written in pieces of about this size (fewer async writes). */
const WRITE_BATCH = 1024 * 1024;

/**
 * Writes file content in batches, double-buffered: one batch is being
 * written while the next one fills, so parsing overlaps the disk. A file
 * that fits in one batch is written with one blocking call.
 */
class ContentWriter {
  readonly #buffers: Uint8Array[] = [];

  /** Creates `path` (never through a symlink) and writes `data` into it. */
  async write(path: string, data: AsyncIterable<Uint8Array>): Promise<void> {
    // createNew (O_EXCL) refuses to follow a symlink put in the way.
    const file = Deno.openSync(path, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    let inflight: Promise<void> | undefined;
    const submit = async (bytes: Uint8Array) => {
      if (inflight) await inflight;
      inflight = writeAll(file, bytes);
      inflight.catch(() => {}); // awaited before the next submit or at the end
    };
    let index = 0;
    let batch: Uint8Array | undefined;
    let used = 0;
    const flush = async () => {
      if (used === 0) return;
      await submit(batch!.subarray(0, used));
      index ^= 1;
      batch = undefined;
      used = 0;
    };
    try {
      for await (const chunk of data) {
        if (chunk.byteLength >= WRITE_BATCH / 4) {
          // Big chunks go as they are (the tar reader never reuses them).
          await flush();
          await submit(chunk);
          continue;
        }
        if (used + chunk.byteLength > WRITE_BATCH) await flush();
        batch ??= this.#buffers[index] ??= new Uint8Array(WRITE_BATCH);
        batch.set(chunk, used);
        used += chunk.byteLength;
      }
      if (inflight === undefined && used > 0) {
        // The whole file fit in one batch (the common case): one blocking
        // write to the page cache beats a round trip to the thread pool.
        writeAllSync(file, batch!.subarray(0, used));
      } else {
        await flush();
        await inflight;
      }
    } finally {
      await inflight?.catch(() => {});
      file.close();
    }
  }
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.byteLength) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    offset += await file.write(bytes.subarray(offset));
  }
}

async function drain(data: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of data) {
    // Content of entries that have none on disk (links, whiteouts) is skipped.
  }
}

function resolveFailure(subject: string, what: string, err: unknown): unknown {
  if (!(err instanceof ResolveError)) return err;
  return invalidArgument(`${subject}: ${what}: ${err.message}`);
}

/** Wraps file-system failures so that the message names the entry. */
function asBerthError(subject: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  let code = Code.Unknown;
  if (err instanceof Deno.errors.PermissionDenied) code = Code.PermissionDenied;
  else if (err instanceof Deno.errors.NotADirectory) {
    code = Code.InvalidArgument;
  } else if (
    err instanceof SyscallError && err.errno === FsErrno.ENOTDIR
  ) code = Code.InvalidArgument;
  return new BerthError(code, `${subject}: ${message}`, { cause: err });
}
