/**
 * The walking differ's Compare: the changes from a `lower` directory tree to
 * an `upper` one, as a list or as an OCI layer tar.
 *
 * The trees are walked side by side in byte order, depth first (containerd's
 * double walk), and the tar follows containerd's `ChangeWriter`: deletions
 * become `.wh.NAME` whiteout files (a directory whose old contents were
 * replaced gets one whiteout per removed name, never an opaque marker);
 * every entry's parent directories come first when they are not in the diff
 * themselves; files sharing an inode become one file and hard links to it;
 * owners are numeric with empty names; mtimes are whole seconds; extended
 * attributes travel as PAX `SCHILY.xattr.*` records. File contents stream
 * from disk.
 *
 * @module
 */
import { type FileStat, FileType, fileType, lstatx } from "../sys/statx.ts";
import { readXattrs } from "./_xattr.ts";
import { cleanRoot, joinRoot, walkChanges, type WalkKind } from "./_walk.ts";
import {
  encodeHeader,
  END_OF_ARCHIVE,
  padding,
  type TarHeader,
  type TarType,
} from "./_tar.ts";

export type { FileStat } from "../sys/statx.ts";

/** How a path differs between the trees. */
export type ChangeKind = "add" | "modify" | "delete";

/** One difference between `lower` and `upper`. */
export interface Change {
  /** What happened to the path. */
  kind: ChangeKind;
  /** The path inside the trees, starting with `/` (`/etc/hosts`). */
  path: string;
  /** The path's `lstat` in `upper`; for `delete`, in `lower`. */
  stat: FileStat;
}

/** Options of {@linkcode changes}. */
export interface CompareOptions {
  /**
   * Which extended attributes are compared and written; default
   * {@linkcode defaultXattrFilter}. containerd itself carries only
   * `security.capability`: pass `(n) => n === "security.capability"` for
   * that.
   */
  xattrs?: (name: string) => boolean;
}

/** Options of {@linkcode writeDiff}. */
export interface WriteDiffOptions extends CompareOptions {
  /**
   * The mtime of whiteout entries; default the time `writeDiff` is called
   * (as containerd). Fix it for reproducible layers.
   */
  whiteoutTime?: Date;
  /** Bytes per chunk of the output stream; default 256 KiB. */
  chunkSize?: number;
}

/**
 * The default xattr filter: everything but `trusted.*` (kernel-private, and
 * refused by appliers), `security.selinux` (the host's labels) and
 * `user.overlay.*` (overlayfs bookkeeping).
 */
export function defaultXattrFilter(name: string): boolean {
  return !name.startsWith("trusted.") && name !== "security.selinux" &&
    !name.startsWith("user.overlay.");
}

/**
 * The changes from `lower` to `upper`, in walk order (each directory's
 * names in byte order, a directory before its contents). A `null` or empty
 * `lower` means an empty tree: everything in `upper` is added.
 *
 * A path is modified when its type, permissions, owner, device numbers or
 * extended attributes differ, or, for non-directories, its size, mtime (to
 * the nanosecond) or symlink target; when both mtimes are whole seconds the
 * contents are compared. Directories compare metadata only (not mtime).
 * Symlinks are never followed. The contents of a deleted directory are not
 * listed.
 *
 * @throws {BerthError} `NotFound` or `InvalidArgument` when a tree is
 * missing or not a directory.
 */
export async function* changes(
  lower: string | null,
  upper: string,
  options: CompareOptions = {},
): AsyncGenerator<Change> {
  const walk = walkChanges(lower || null, upper, {
    xattrs: options.xattrs ?? defaultXattrFilter,
  });
  for await (const change of walk) {
    if (change.kind !== "unmodified") yield change as Change;
  }
}

/**
 * The changes from `lower` to `upper` as an uncompressed OCI layer tar.
 * Reading the stream drives the walk; cancelling it stops the walk and
 * closes open files. The stream errors if a file changes size while it is
 * read.
 *
 * @throws {BerthError} through the stream, when a tree is missing or not a
 * directory.
 */
export function writeDiff(
  lower: string | null,
  upper: string,
  options: WriteDiffOptions = {},
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const writer = new ChangeWriter(cleanRoot(upper), options);
  return ReadableStream.from(writer.write(lower || null));
}

const DEFAULT_CHUNK = 256 * 1024;
const SMALL_FILE = 64 * 1024;

/** Fills fixed-size chunks and hands out the full ones. */
class Chunker {
  readonly #size: number;
  #chunk: Uint8Array<ArrayBuffer>;
  #used = 0;
  #full: Uint8Array<ArrayBuffer>[] = [];

  constructor(size: number) {
    this.#size = size;
    this.#chunk = new Uint8Array(size);
  }

  /** Copies `bytes` in. */
  put(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.#size - this.#used);
      this.#chunk.set(bytes.subarray(at, at + n), this.#used);
      this.#used += n;
      at += n;
      if (this.#used === this.#size) this.#seal();
    }
  }

  /** Appends `count` zero bytes. */
  zeros(count: number): void {
    if (count > 0) this.put(new Uint8Array(count));
  }

  /** The free part of the current chunk, to read into. */
  room(): Uint8Array<ArrayBuffer> {
    return this.#chunk.subarray(this.#used);
  }

  /** Accounts `count` bytes written into {@linkcode Chunker.room}. */
  advance(count: number): void {
    this.#used += count;
    if (this.#used === this.#size) this.#seal();
  }

  /** Seals the current chunk even if not full. */
  flush(): void {
    if (this.#used > 0) this.#seal();
  }

  /** Takes the sealed chunks. */
  take(): Uint8Array<ArrayBuffer>[] {
    return this.#full.splice(0);
  }

  #seal(): void {
    this.#full.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = new Uint8Array(this.#size);
    this.#used = 0;
  }
}

/** Turns walk changes into tar entries, containerd's `ChangeWriter`. */
class ChangeWriter {
  readonly #upper: string;
  readonly #xattrs: (name: string) => boolean;
  readonly #whiteoutTime: number;
  readonly #out: Chunker;
  readonly #addedDirs = new Set<string>();
  readonly #inodeSource = new Map<bigint, string>();
  readonly #inodeRefs = new Map<bigint, string[]>();

  constructor(upper: string, options: WriteDiffOptions) {
    this.#upper = upper;
    this.#xattrs = options.xattrs ?? defaultXattrFilter;
    this.#whiteoutTime = Math.round(
      (options.whiteoutTime ?? new Date()).getTime() / 1000,
    );
    this.#out = new Chunker(options.chunkSize ?? DEFAULT_CHUNK);
  }

  async *write(lower: string | null): AsyncGenerator<Uint8Array<ArrayBuffer>> {
    const walk = walkChanges(lower, this.#upper, { xattrs: this.#xattrs });
    for await (const change of walk) {
      yield* this.#handle(change.kind, change.path, change.stat);
    }
    this.#out.put(END_OF_ARCHIVE);
    this.#out.flush();
    yield* this.#out.take();
  }

  async *#handle(
    kind: WalkKind,
    path: string,
    stat: FileStat,
  ): AsyncGenerator<Uint8Array<ArrayBuffer>> {
    if (kind === "delete") {
      const slash = path.lastIndexOf("/");
      const name = `${path.slice(1, slash + 1)}.wh.${path.slice(slash + 1)}`;
      yield* this.#includeParents(name, false);
      this.#out.put(encodeHeader({
        name,
        type: "0",
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: this.#whiteoutTime,
      }));
      yield* this.#out.take();
      return;
    }
    const type = tarType(stat.mode);
    if (type === undefined) return; // sockets are not archived
    const source = joinRoot(this.#upper, path);
    const header: TarHeader = {
      name: path.slice(1) + (type === "5" ? "/" : ""),
      type,
      mode: stat.mode & 0o7777,
      uid: stat.uid,
      gid: stat.gid,
      size: type === "0" ? stat.size : 0,
      mtime: stat.mtimeSec,
    };
    if (type === "2") header.linkname = await Deno.readLink(source);
    if (type === "3" || type === "4") {
      header.devmajor = stat.rdevMajor;
      header.devminor = stat.rdevMinor;
    }
    let extraLinks: string[] = [];
    if (type !== "5" && stat.nlink > 1) {
      const first = this.#inodeSource.get(stat.ino);
      if (first !== undefined) {
        header.type = "1";
        header.linkname = first;
        header.size = 0;
      } else if (kind === "unmodified") {
        const refs = this.#inodeRefs.get(stat.ino) ?? [];
        refs.push(header.name);
        this.#inodeRefs.set(stat.ino, refs);
        return;
      } else {
        this.#inodeSource.set(stat.ino, header.name);
        extraLinks = this.#inodeRefs.get(stat.ino) ?? [];
        this.#inodeRefs.delete(stat.ino);
      }
    } else if (kind === "unmodified") {
      return;
    }
    header.xattrs = readXattrs(source, this.#xattrs);
    yield* this.#includeParents(header.name, header.type === "5");
    this.#out.put(encodeHeader(header));
    if (header.type === "0" && header.size > 0) {
      yield* this.#copyFile(source, header.size);
    }
    yield* this.#out.take();
    const target = header.name;
    for (const name of extraLinks) {
      const link = {
        ...header,
        name,
        type: "1" as const,
        linkname: target,
        size: 0,
      };
      yield* this.#includeParents(name, false);
      this.#out.put(encodeHeader(link));
      yield* this.#out.take();
    }
  }

  /** Writes the parent directory of `name` first if it is not in yet. */
  async *#includeParents(
    name: string,
    isDir: boolean,
  ): AsyncGenerator<Uint8Array<ArrayBuffer>> {
    const trimmed = name.replace(/\/+$/, "");
    const slash = trimmed.lastIndexOf("/");
    if (slash > 0) {
      const parent = trimmed.slice(0, slash);
      if (!this.#addedDirs.has(parent)) {
        this.#addedDirs.add(parent);
        const stat = lstatx(joinRoot(this.#upper, `/${parent}`));
        yield* this.#handle("modify", `/${parent}`, stat);
      }
    }
    if (isDir) this.#addedDirs.add(trimmed);
  }

  /**
   * Streams `size` bytes of `source`, then the block padding. Small files
   * are read synchronously: an async open and read cost ~50 µs each, which
   * dominates a tree of small files, while a blocking read of a few KiB is
   * short.
   */
  async *#copyFile(
    source: string,
    size: number,
  ): AsyncGenerator<Uint8Array<ArrayBuffer>> {
    const small = size <= SMALL_FILE;
    using file = small ? Deno.openSync(source) : await Deno.open(source);
    const read = (buf: Uint8Array) =>
      small ? file.readSync(buf) : file.read(buf);
    let left = size;
    while (left > 0) {
      const room = this.#out.room();
      const n = await read(room.subarray(0, Math.min(room.length, left)));
      if (n === null) throw new Error(`${source}: file shrank while archived`);
      this.#out.advance(n);
      left -= n;
      yield* this.#out.take();
    }
    if (await read(new Uint8Array(1)) !== null) {
      throw new Error(`${source}: file grew while archived`);
    }
    this.#out.zeros(padding(size));
  }
}

/** The tar type of each file type; sockets have none. */
const TAR_TYPES = new Map<number, TarType | undefined>([
  [FileType.S_IFREG, "0"],
  [FileType.S_IFDIR, "5"],
  [FileType.S_IFLNK, "2"],
  [FileType.S_IFCHR, "3"],
  [FileType.S_IFBLK, "4"],
  [FileType.S_IFIFO, "6"],
  [FileType.S_IFSOCK, undefined],
]);

/** The tar type of a file mode; `undefined` for sockets. */
function tarType(mode: number): TarType | undefined {
  const type = fileType(mode);
  if (!TAR_TYPES.has(type)) {
    throw new Error(`unknown file mode 0${mode.toString(8)}`);
  }
  return TAR_TYPES.get(type);
}
