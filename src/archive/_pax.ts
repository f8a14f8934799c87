/**
 * PAX extended headers, read byte-exactly.
 *
 * tar-stream decodes every PAX value as UTF-8, which corrupts binary
 * extended attributes (`SCHILY.xattr.security.capability` holds raw bytes).
 * {@linkcode decodePax} keeps `SCHILY.xattr.*` values as bytes, and
 * {@linkcode installPaxDecoder} makes a tar-stream extractor use it, with a
 * size limit on every long header (PAX records, GNU long names) and PAX
 * global headers ignored, as containerd's reader effectively does.
 *
 * @module
 */
import type { Extract } from "tar-stream";
import { BerthError, Code, invalidArgument } from "../types/mod.ts";

/** The PAX key prefix of extended attributes (`SCHILY.xattr.NAME`). */
export const PAX_XATTR_PREFIX = "SCHILY.xattr.";

/** Where the byte-exact extended attributes of a PAX header are kept. */
export const PAX_XATTRS: unique symbol = Symbol("berth.pax.xattrs");

/**
 * Decoded PAX records: UTF-8 text for every key, except that extended
 * attributes are also kept as bytes under {@linkcode PAX_XATTRS}.
 */
export interface PaxRecords {
  /** Record values by key (xattr values decoded as UTF-8, lossily). */
  [key: string]: string;
  /** Extended attributes by name (without the `SCHILY.xattr.` prefix). */
  [PAX_XATTRS]?: Map<string, Uint8Array>;
}

const utf8 = new TextDecoder();
const SPACE = 0x20;
const NEWLINE = 0x0a;
const EQUALS = 0x3d;

/**
 * Decodes PAX records (`LEN KEY=VALUE\n`, LEN counting the whole record).
 *
 * @throws {BerthError} InvalidArgument when a record is malformed.
 */
export function decodePax(buf: Uint8Array): PaxRecords {
  const records: PaxRecords = {};
  const xattrs = new Map<string, Uint8Array>();
  let offset = 0;
  while (offset < buf.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (buf[offset] === 0 && buf.subarray(offset).every((b) => b === 0)) break;
    let i = offset;
    let length = 0;
    while (
      i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39 && i - offset < 12
    ) {
      length = length * 10 + buf[i] - 0x30;
      i++;
    }
    if (i === offset || buf[i] !== SPACE) throw malformed("record length");
    const end = offset + length;
    if (
      length <= i - offset + 1 || end > buf.length || buf[end - 1] !== NEWLINE
    ) {
      throw malformed("record length");
    }
    const record = buf.subarray(i + 1, end - 1);
    const eq = record.indexOf(EQUALS);
    if (eq <= 0) throw malformed("record without key");
    const key = utf8.decode(record.subarray(0, eq));
    const value = record.subarray(eq + 1);
    if (key.startsWith(PAX_XATTR_PREFIX)) {
      xattrs.set(key.slice(PAX_XATTR_PREFIX.length), value.slice());
    }
    records[key] = utf8.decode(value);
    offset = end;
  }
  if (xattrs.size > 0) records[PAX_XATTRS] = xattrs;
  return records;
}

function malformed(what: string): BerthError {
  return invalidArgument(`layer: malformed PAX header: ${what}`);
}

/** Options of {@linkcode installPaxDecoder}. */
export interface PaxDecoderOptions {
  /** The largest PAX header or GNU long name accepted, in bytes. */
  maxHeaderBytes: number;
}

/** The tar-stream internals {@linkcode installPaxDecoder} replaces. */
interface ExtractInternals {
  _header: { type: string; size: number } | null;
  _pax: PaxRecords | null;
  _decodeLongHeader(buf: Uint8Array): void;
}

/**
 * Makes `extract` decode PAX headers with {@linkcode decodePax}, reject long
 * headers over `maxHeaderBytes` (ResourceExhausted), and ignore PAX global
 * headers. Relies on tar-stream 3.2's `_decodeLongHeader` hook (the version
 * is pinned; the tests check binary xattrs survive).
 */
export function installPaxDecoder(
  extract: Extract,
  options: PaxDecoderOptions,
): void {
  const internals = extract as unknown as ExtractInternals;
  const original = internals._decodeLongHeader;
  if (typeof original !== "function") {
    throw new Error("tar-stream: unexpected internals (_decodeLongHeader)");
  }
  internals._decodeLongHeader = function (buf: Uint8Array): void {
    const type = internals._header?.type;
    if (buf.byteLength > options.maxHeaderBytes) {
      throw new BerthError(
        Code.ResourceExhausted,
        `layer: ${
          type ?? "long"
        } header of ${buf.byteLength} bytes exceeds the limit of ${options.maxHeaderBytes} bytes`,
      );
    }
    switch (type) {
      case "pax-header":
        internals._pax = decodePax(buf);
        return;
      case "pax-global-header":
        // Go's reader hands global headers to containerd, which ignores them.
        return;
      default:
        original.call(this, buf);
    }
  };
}
