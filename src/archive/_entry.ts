/**
 * One tar header, checked and normalized into what layer application needs:
 * numeric owners, permission bits, nanosecond times (PAX `mtime`/`atime`
 * win over the header's seconds), byte-exact extended attributes.
 *
 * @module
 */
import type { Header } from "tar-stream";
import type { Timespec } from "../sys/fsx.ts";
import { BerthError, Code, invalidArgument } from "../types/mod.ts";
import { PAX_XATTRS, type PaxRecords } from "./_pax.ts";

/** The entry types a layer may hold. */
export type EntryType =
  | "file"
  | "directory"
  | "symlink"
  | "link"
  | "character-device"
  | "block-device"
  | "fifo";

/** A checked layer entry. */
export interface LayerEntry {
  /** The name as written in the archive. */
  name: string;
  /** What it is. */
  type: EntryType;
  /** Permission bits, including setuid, setgid and sticky (`0o7777`). */
  mode: number;
  /** Numeric owner. */
  uid: number;
  /** Numeric group. */
  gid: number;
  /** Bytes of content (regular files). */
  size: number;
  /** Symlink target, or hardlink target name. */
  linkname: string;
  /** Device major number. */
  devmajor: number;
  /** Device minor number. */
  devminor: number;
  /** Modification time, bounded as containerd bounds it. */
  mtime: Timespec;
  /** Access time: the later of the PAX atime and the mtime. */
  atime: Timespec;
  /** Extended attributes by name. */
  xattrs: Map<string, Uint8Array>;
}

/** The longest name or link target accepted, in bytes (Linux PATH_MAX). */
export const MAX_NAME_BYTES = 4096;

/** The largest owner id `lchown` takes (2^32-1 would mean "unchanged"). */
const MAX_ID = 0xfffffffe;

/** The largest seconds value Go's time bound keeps (1<<63-1 ns). */
const MAX_SECONDS = 9223372036;

const encoder = new TextEncoder();

/** The quoted name used in every error about an entry. */
export function entrySubject(name: string): string {
  return `layer entry ${JSON.stringify(name)}`;
}

/**
 * Checks a tar-stream header and returns the entry it describes.
 *
 * @throws {BerthError} InvalidArgument for malformed or unsupported headers.
 */
export function toLayerEntry(header: Header): LayerEntry {
  const name = header.name ?? "";
  const subject = entrySubject(name);
  const fail = (why: string) => invalidArgument(`${subject}: ${why}`);
  checkPath(name, "name", fail);
  const pax = (header.pax ?? {}) as PaxRecords;
  const type = entryType(header.type as string | null, pax, fail);

  const linkname = header.linkname ?? "";
  if (type === "link" || type === "symlink") {
    checkPath(linkname, "link target", fail);
    // No file system can make one, and the error would not say why.
    if (linkname === "") throw fail("empty link target");
  }
  const uid = paxId(pax.uid) ?? header.uid;
  const gid = paxId(pax.gid) ?? header.gid;
  if (!isId(uid)) throw fail(`invalid uid ${uid}`);
  if (!isId(gid)) throw fail(`invalid gid ${gid}`);
  if (!isCount(header.mode)) throw fail("invalid mode");
  if (!isCount(header.size)) throw fail("invalid size");
  const devmajor = header.devmajor ?? 0;
  const devminor = header.devminor ?? 0;
  if (!isCount(devmajor) || devmajor > 0xffffffff) {
    throw fail("invalid device major");
  }
  if (!isCount(devminor) || devminor > 0xffffffff) {
    throw fail("invalid device minor");
  }

  const rawMtime = paxTime(pax.mtime, fail) ?? secondsOf(header.mtime);
  const rawAtime = paxTime(pax.atime, fail);
  const mtime = bound(rawMtime);
  const atime = bound(rawAtime ? later(rawAtime, rawMtime) : rawMtime);

  return {
    name,
    type,
    mode: header.mode & 0o7777,
    uid,
    gid,
    size: header.size,
    linkname,
    devmajor,
    devminor,
    mtime,
    atime,
    xattrs: pax[PAX_XATTRS] ?? new Map(),
  };
}

function entryType(
  type: string | null,
  pax: PaxRecords,
  fail: (why: string) => BerthError,
): EntryType {
  if (Object.keys(pax).some((key) => key.startsWith("GNU.sparse."))) {
    throw fail("sparse files are not supported");
  }
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
    case "symlink":
    case "link":
    case "character-device":
    case "block-device":
    case "fifo":
      return type;
    default:
      throw fail("unsupported tar entry type");
  }
}

function checkPath(
  path: string,
  what: string,
  fail: (why: string) => BerthError,
): void {
  if (path.includes("\0")) throw fail(`${what} contains a NUL byte`);
  if (encoder.encode(path).byteLength > MAX_NAME_BYTES) {
    throw new BerthError(
      Code.InvalidArgument,
      `${
        entrySubject(path.slice(0, 64) + "…")
      }: ${what} longer than ${MAX_NAME_BYTES} bytes`,
    );
  }
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function isId(n: unknown): n is number {
  return isCount(n) && n <= MAX_ID;
}

function paxId(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  return /^\d{1,10}$/.test(value) ? Number(value) : NaN;
}

/** Parses a PAX time (`SECONDS[.FRACTION]`, maybe negative). */
function paxTime(
  value: string | undefined,
  fail: (why: string) => BerthError,
): Timespec | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^(-?)(\d{1,19})(?:\.(\d*))?$/.exec(value);
  if (!match) throw fail(`invalid PAX time ${JSON.stringify(value)}`);
  const [, sign, whole, fraction = ""] = match;
  let sec = Number(whole);
  let nsec = Number((fraction + "000000000").slice(0, 9));
  if (sign) {
    sec = -sec;
    if (nsec > 0) {
      sec -= 1;
      nsec = 1_000_000_000 - nsec;
    }
  }
  return { sec, nsec };
}

function secondsOf(date: Date | null | undefined): Timespec {
  const ms = date?.getTime();
  if (ms === undefined || !Number.isFinite(ms)) return { sec: 0, nsec: 0 };
  return { sec: Math.floor(ms / 1000), nsec: 0 };
}

function later(a: Timespec, b: Timespec): Timespec {
  if (a.sec !== b.sec) return a.sec > b.sec ? a : b;
  return a.nsec >= b.nsec ? a : b;
}

/** Times before the epoch or past 2262 become the epoch, as in containerd. */
function bound(t: Timespec): Timespec {
  if (!Number.isFinite(t.sec) || t.sec < 0 || t.sec > MAX_SECONDS) {
    return { sec: 0, nsec: 0 };
  }
  return t;
}
