/**
 * Tar header blocks as Go's `archive/tar` writes them for containerd: USTAR
 * when every field fits, else a PAX extended header (path, linkpath, uid,
 * gid, size, mtime, `SCHILY.xattr.*`) before the entry. Owner names stay
 * empty; xattr values are raw bytes, as PAX allows.
 *
 * @module
 */

/** Entry types, as their typeflag characters. */
export type TarType = "0" | "1" | "2" | "3" | "4" | "5" | "6";

/** The fields of one entry. */
export interface TarHeader {
  /** Path inside the archive, no leading `/`; directories end in `/`. */
  name: string;
  /** `0` file, `1` hard link, `2` symlink, `3` char, `4` block, `5` dir, `6` fifo. */
  type: TarType;
  /** Permission bits with setuid, setgid and sticky (`0o7777`). */
  mode: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Bytes of content following the header (regular files only). */
  size: number;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  /** Symlink target, or the earlier entry a hard link points at. */
  linkname?: string;
  /** Device major number. */
  devmajor?: number;
  /** Device minor number. */
  devminor?: number;
  /** Extended attributes, written as `SCHILY.xattr.NAME` PAX records. */
  xattrs?: readonly (readonly [name: string, value: Uint8Array])[];
}

/** Size of a tar block. */
export const BLOCK = 512;

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE: Uint8Array<ArrayBuffer> = new Uint8Array(
  2 * BLOCK,
);

const encoder = new TextEncoder();
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

/** Zero bytes needed after `size` bytes of content to fill the block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isASCII(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c >= 0x80) return false;
  }
  return true;
}

function toASCII(text: string): string {
  if (isASCII(text)) return text;
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c !== 0 && c < 0x80) out += ch;
  }
  return out;
}

function fitsOctal(width: number, value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < 8 ** (width - 1);
}

function putString(
  block: Uint8Array,
  offset: number,
  width: number,
  text: string,
) {
  block.set(encoder.encode(text).subarray(0, width), offset);
}

function putOctal(
  block: Uint8Array,
  offset: number,
  width: number,
  value: number,
) {
  putString(
    block,
    offset,
    width - 1,
    value.toString(8).padStart(width - 1, "0"),
  );
}

function splitUSTAR(name: string): [prefix: string, name: string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isASCII(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === "/") length--;
  const i = name.lastIndexOf("/", length - 1);
  const rest = name.length - i - 1;
  if (i <= 0 || rest > NAME_SIZE || rest === 0 || i > PREFIX_SIZE) {
    return undefined;
  }
  return [name.slice(0, i), name.slice(i + 1)];
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = encoder.encode(key);
  // "SIZE KEY=VALUE\n", where SIZE counts its own digits too.
  const base = keyBytes.length + value.length + 3;
  const size = base + String(base + String(base).length).length;
  const head = encoder.encode(`${size} ${key}=`);
  const record = new Uint8Array(size);
  record.set(head, 0);
  record.set(value, head.length);
  record[size - 1] = 0x0a;
  return record;
}

function fillBlock(
  block: Uint8Array,
  fields: {
    name: string;
    mode: number;
    uid: number;
    gid: number;
    size: number;
    mtime: number;
    type: string;
    linkname: string;
    devmajor: number;
    devminor: number;
    prefix: string;
  },
) {
  putString(block, 0, NAME_SIZE, fields.name);
  putOctal(block, 100, 8, fields.mode);
  putOctal(block, 108, 8, fields.uid);
  putOctal(block, 116, 8, fields.gid);
  putOctal(block, 124, 12, fields.size);
  putOctal(block, 136, 12, fields.mtime);
  block[156] = fields.type.charCodeAt(0);
  putString(block, 157, NAME_SIZE, fields.linkname);
  putString(block, 257, 8, "ustar\x0000");
  putOctal(block, 329, 8, fields.devmajor);
  putOctal(block, 337, 8, fields.devminor);
  putString(block, 345, PREFIX_SIZE, fields.prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let k = 0; k < BLOCK; k++) sum += block[k];
  putOctal(block, 148, 7, sum);
}

/**
 * The header block(s) for `header`: one USTAR block, or a PAX extended
 * header (block, records, padding) followed by the entry's block.
 */
export function encodeHeader(header: TarHeader): Uint8Array<ArrayBuffer> {
  const records: [string, Uint8Array][] = [];
  const numeric = (key: string, width: number, value: number): number => {
    if (fitsOctal(width, value)) return value;
    records.push([key, encoder.encode(String(value))]);
    return 0;
  };
  const uid = numeric("uid", 8, header.uid);
  const gid = numeric("gid", 8, header.gid);
  const size = numeric("size", 12, header.size);
  const mtime = numeric("mtime", 12, header.mtime);
  const linkname = header.linkname ?? "";
  if (!isASCII(linkname) || encoder.encode(linkname).length > NAME_SIZE) {
    records.push(["linkpath", encoder.encode(linkname)]);
  }
  for (const [name, value] of header.xattrs ?? []) {
    records.push([`SCHILY.xattr.${name}`, value]);
  }
  let name = header.name;
  let prefix = "";
  if (!isASCII(name) || encoder.encode(name).length > NAME_SIZE) {
    const split = records.length === 0 ? splitUSTAR(name) : undefined;
    if (split) [prefix, name] = split;
    else records.push(["path", encoder.encode(name)]);
  }
  const fields = {
    name: toASCII(name),
    mode: header.mode & 0o7777,
    uid,
    gid,
    size,
    mtime,
    type: header.type,
    linkname: toASCII(linkname),
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
    prefix,
  };
  if (records.length === 0) {
    const block = new Uint8Array(BLOCK);
    fillBlock(block, fields);
    return block;
  }
  records.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const encoded = records.map(([key, value]) => paxRecord(key, value));
  const dataSize = encoded.reduce((total, r) => total + r.length, 0);
  const dataBlocks = dataSize + padding(dataSize);
  const out = new Uint8Array(BLOCK + dataBlocks + BLOCK);
  const slash = header.name.lastIndexOf("/");
  const dir = header.name.slice(0, slash + 1);
  const file = header.name.slice(slash + 1);
  const paxName = toASCII(`${dir}PaxHeaders.0${file ? `/${file}` : ""}`)
    .slice(0, NAME_SIZE).replace(/\/+$/, "");
  fillBlock(out.subarray(0, BLOCK), {
    name: paxName,
    mode: 0,
    uid: 0,
    gid: 0,
    size: dataSize,
    mtime: 0,
    type: "x",
    linkname: "",
    devmajor: 0,
    devminor: 0,
    prefix: "",
  });
  let at = BLOCK;
  for (const record of encoded) {
    out.set(record, at);
    at += record.length;
  }
  fillBlock(out.subarray(BLOCK + dataBlocks), fields);
  return out;
}
