/**
 * IP addresses, prefixes and MAC addresses as text and as the bytes
 * rtnetlink carries. Text is written the way `ip` prints it (IPv6 in the
 * RFC 5952 short form).
 *
 * @module
 */
import { invalidArgument } from "../types/mod.ts";

/** An address with its prefix length, e.g. `10.0.0.1/24`. */
export interface Prefix {
  /** 4 (IPv4) or 6 (IPv6). */
  version: 4 | 6;
  /** The address bytes (4 or 16). */
  bytes: Uint8Array;
  /** The prefix length. */
  length: number;
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) {
      return undefined;
    }
    bytes[i] = Number(part);
  }
  return bytes;
}

function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A trailing dotted quad counts as two groups (::ffff:1.2.3.4).
  const words: number[] = [];
  const toWords = (list: string[], last: boolean) => {
    for (const [i, group] of list.entries()) {
      if (last && i === list.length - 1 && group.includes(".")) {
        const v4 = parseIPv4(group);
        if (!v4) return false;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        words.push(parseInt(group, 16));
      } else return false;
    }
    return true;
  };
  if (!toWords(head, halves.length === 1)) return undefined;
  const headCount = words.length;
  if (!toWords(tail, true)) return undefined;
  const missing = 8 - words.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  words.splice(headCount, 0, ...new Array(missing).fill(0));
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/** Parses an IPv4 or IPv6 address; undefined when `text` is neither. */
export function parseIP(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIPv6(text) : parseIPv4(text);
}

/** Formats 4 or 16 address bytes as `ip` prints them. */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.byteLength === 4) return Array.from(bytes).join(".");
  const words = Array.from(
    { length: 8 },
    (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1],
  );
  // The longest run of two or more zero groups becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const hex = (list: number[]) => list.map((w) => w.toString(16)).join(":");
  // IPv4-compatible and -mapped addresses end in a dotted quad (inet_ntop).
  if (
    best.at === 0 &&
    (best.length === 6 || (best.length === 5 && words[5] === 0xffff))
  ) {
    const quad = Array.from(bytes.subarray(12)).join(".");
    return best.length === 5 ? `::ffff:${quad}` : `::${quad}`;
  }
  if (best.at < 0) return hex(words);
  return `${hex(words.slice(0, best.at))}::${
    hex(words.slice(best.at + best.length))
  }`;
}

/**
 * Parses `ADDRESS/LENGTH` (or a bare address, as a host prefix, or
 * `default` when `allowDefault`); throws InvalidArgument naming `what`.
 */
export function parsePrefix(
  text: string,
  what: string,
  { allowDefault = false } = {},
): Prefix {
  if (allowDefault && text === "default") {
    return { version: 4, bytes: new Uint8Array(4), length: 0 };
  }
  const [address, length, ...rest] = text.split("/");
  const bytes = parseIP(address);
  const max = bytes?.byteLength === 4 ? 32 : 128;
  const prefixLength = length === undefined ? max : Number(length);
  if (
    !bytes || rest.length > 0 ||
    (length !== undefined && !/^[0-9]{1,3}$/.test(length)) ||
    prefixLength > max
  ) {
    throw invalidArgument(`${what} ${JSON.stringify(text)}: not an IP prefix`);
  }
  return { version: max === 32 ? 4 : 6, bytes, length: prefixLength };
}

/** Formats a prefix as `ADDRESS/LENGTH`. */
export function formatPrefix(prefix: Prefix): string {
  return `${formatIP(prefix.bytes)}/${prefix.length}`;
}

/** Parses a MAC address `aa:bb:cc:dd:ee:ff`; throws InvalidArgument. */
export function parseMac(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
    throw invalidArgument(`MAC address ${JSON.stringify(text)}`);
  }
  return new Uint8Array(text.split(":").map((part) => parseInt(part, 16)));
}

/** Formats hardware address bytes as `aa:bb:…`. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}
