/**
 * HPACK, HTTP/2's header compression (RFC 7541): a decoder for the header
 * blocks a peer sends and an encoder for the ones we send.
 *
 * Header strings are byte strings: the decoder gives each byte as one
 * character (latin1), so nothing is lost; the encoder sends a string whose
 * characters are all below U+0100 the same way, and any other as UTF-8.
 *
 * @module
 */

import {
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  maxDecodedLength,
} from "./_huffman.ts";
import {
  DynamicTable,
  ENTRY_OVERHEAD,
  STATIC_TABLE,
  STATIC_TABLE_LENGTH,
} from "./_table.ts";

/** A header field as it travels: lowercase name, value. */
export type HeaderField = [name: string, value: string];

/** A header block HPACK cannot decode: the connection must end with COMPRESSION_ERROR. */
export class HpackError extends Error {
  /** An error saying what is wrong with the block. */
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** A decoded header list larger than the limit (the stream, not the connection, is refused). */
export class HeaderListTooLargeError extends Error {
  /** An error naming the list's size and the limit. */
  constructor(message: string) {
    super(message);
    this.name = "HeaderListTooLargeError";
  }
}

/** Options of {@linkcode HpackDecoder}. */
export interface HpackDecoderOptions {
  /**
   * The largest dynamic table the peer may make us keep: our
   * SETTINGS_HEADER_TABLE_SIZE. Default 4096.
   */
  maxTableSize?: number;
  /**
   * The largest header list `decode` returns, counted as RFC 7540 §6.5.2
   * does: name + value + 32 bytes per field. Default 64 KiB.
   */
  maxHeaderListSize?: number;
}

/** The protocol's initial SETTINGS_HEADER_TABLE_SIZE (RFC 7540 §6.5.2). */
const DEFAULT_TABLE_SIZE = 4096;
const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;
// Integers past this are never valid here (indexes, lengths, table sizes),
// and refusing them early keeps the arithmetic exact.
const MAX_INTEGER = 2 ** 32 - 1;
const EMPTY = new Uint8Array(0);
// A scratch buffer for Huffman strings larger than this is dropped after
// its block.
const MAX_KEPT_SCRATCH = 16 * 1024;

/**
 * Decodes the header blocks of one direction of a connection, keeping its
 * dynamic table. Blocks must be decoded in the order they arrived, each
 * whole (a HEADERS frame and its CONTINUATION frames).
 */
export class HpackDecoder {
  #table: DynamicTable;
  #maxTableSize: number;
  #maxHeaderListSize: number;
  // Where the block being decoded is read next.
  #block: Uint8Array = EMPTY;
  #pos = 0;
  // Room for one decoded Huffman string; grows to the longest in a block.
  #scratch = new Uint8Array(256);

  /** A decoder with an empty dynamic table of at most `maxTableSize` bytes. */
  constructor(options: HpackDecoderOptions = {}) {
    this.#maxTableSize = options.maxTableSize ?? DEFAULT_TABLE_SIZE;
    this.#maxHeaderListSize = options.maxHeaderListSize ??
      DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#table = new DynamicTable(this.#maxTableSize);
  }

  /**
   * Decodes one header block into its fields, in order, and updates the
   * dynamic table.
   *
   * @throws {HpackError} if the block is malformed; the decoder is then out
   * of step with the peer and the connection must end.
   * @throws {HeaderListTooLargeError} if the fields pass
   * `maxHeaderListSize`; the whole block was still decoded, so the decoder
   * stays usable.
   */
  decode(block: Uint8Array): HeaderField[] {
    this.#block = block;
    this.#pos = 0;
    const table = this.#table;
    const limit = this.#maxHeaderListSize;
    let fields: HeaderField[] = [];
    let listSize = 0;
    let sawField = false;
    try {
      while (this.#pos < block.length) {
        const first = block[this.#pos];
        let name: string;
        let value: string;
        if (first >= 0x80) {
          // Indexed header field (§6.1).
          const index = this.#integer(7);
          if (index <= STATIC_TABLE_LENGTH) {
            if (index === 0) throw new HpackError("index 0 in a header block");
            [name, value] = STATIC_TABLE[index - 1];
          } else {
            const slot = table.slotOf(index - STATIC_TABLE_LENGTH);
            if (slot < 0) throw this.#badIndex(index);
            name = table.names[slot];
            value = table.values[slot];
          }
        } else if (first >= 0x40) {
          // Literal with incremental indexing (§6.2.1).
          name = this.#name(6);
          value = this.#string();
          table.insert(
            name,
            value,
            name.length + value.length + ENTRY_OVERHEAD,
          );
        } else if (first >= 0x20) {
          // Dynamic table size update (§6.3).
          if (sawField) {
            throw new HpackError(
              "dynamic table size update after a header field",
            );
          }
          const size = this.#integer(5);
          if (size > this.#maxTableSize) {
            throw new HpackError(
              `dynamic table size update to ${size} bytes, above the ${this.#maxTableSize} allowed`,
            );
          }
          table.resize(size);
          continue;
        } else {
          // Literal without indexing (§6.2.2) or never indexed (§6.2.3).
          name = this.#name(4);
          value = this.#string();
        }
        sawField = true;
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        // Past the limit, fields are decoded for the table's sake only.
        if (listSize <= limit) fields.push([name, value]);
        else fields = [];
      }
    } finally {
      // Let go of the block, and of a scratch buffer a huge string grew.
      this.#block = EMPTY;
      if (this.#scratch.length > MAX_KEPT_SCRATCH) {
        this.#scratch = new Uint8Array(256);
      }
    }
    if (listSize > limit) {
      throw new HeaderListTooLargeError(
        `header list of ${listSize} bytes, above the ${limit} allowed`,
      );
    }
    return fields;
  }

  // An integer with an n-bit prefix (§5.1), from the current byte on.
  #integer(prefixBits: number): number {
    const block = this.#block;
    const max = (1 << prefixBits) - 1;
    let value = block[this.#pos++] & max;
    if (value < max) return value;
    let factor = 1;
    for (;;) {
      if (this.#pos >= block.length) {
        throw new HpackError("header block ends inside an integer");
      }
      const byte = block[this.#pos++];
      value += (byte & 0x7f) * factor;
      factor *= 128;
      // Past 5 continuation bytes (or 32 bits) nothing valid is left, and
      // zero bytes (0x80) could otherwise go on until the factor overflows.
      if (value > MAX_INTEGER || factor > 2 ** 35) {
        throw new HpackError("integer in a header block is too large");
      }
      if (byte < 0x80) return value;
    }
  }

  // The name of a literal field: an index with an n-bit prefix, or 0 and
  // a string.
  #name(prefixBits: number): string {
    const index = this.#integer(prefixBits);
    if (index === 0) return this.#string();
    if (index <= STATIC_TABLE_LENGTH) return STATIC_TABLE[index - 1][0];
    const slot = this.#table.slotOf(index - STATIC_TABLE_LENGTH);
    if (slot < 0) throw this.#badIndex(index);
    return this.#table.names[slot];
  }

  // A string literal (§5.2).
  #string(): string {
    const block = this.#block;
    if (this.#pos >= block.length) {
      throw new HpackError("header block ends before a string");
    }
    const huffman = block[this.#pos] >= 0x80;
    const length = this.#integer(7);
    const start = this.#pos;
    const end = start + length;
    if (end > block.length) {
      throw new HpackError("header block ends inside a string");
    }
    this.#pos = end;
    if (!huffman) return latin1(block, start, end);
    const room = maxDecodedLength(length);
    if (this.#scratch.length < room) {
      this.#scratch = new Uint8Array(Math.max(room, 2 * this.#scratch.length));
    }
    const decoded = huffmanDecode(block, start, end, this.#scratch);
    if (decoded < 0) {
      throw new HpackError(
        "Huffman-coded string holds EOS or is padded with other than up to 7 one bits",
      );
    }
    return latin1(this.#scratch, 0, decoded);
  }

  #badIndex(index: number): HpackError {
    return new HpackError(
      `index ${index} is past the static table and the ${this.#table.length} dynamic entries`,
    );
  }
}

// Decoding ASCII is cheapest through TextDecoder for all but short strings.
const utf8 = new TextDecoder();

/** The bytes `bytes[start..end)` as a string, one character per byte. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= 16) {
    let text = "";
    for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]);
    return text;
  }
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  const view = bytes.subarray(start, end);
  if (ascii) return utf8.decode(view);
  let text = "";
  for (let i = 0; i < length; i += 4096) {
    text += String.fromCharCode(...view.subarray(i, i + 4096));
  }
  return text;
}

// Fields whose values say something secret: sent never-indexed (§7.1.3)
// so no intermediary indexes them either.
const NEVER_INDEXED = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
]);
// Fields whose values change from message to message: indexing them would
// only evict the entries worth keeping. An empty value is indexed, which
// also makes the name cheap to send (`grpc-message`).
const NOT_INDEXED = new Set([
  ":path",
  "content-length",
  "date",
  "etag",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-timeout",
  "last-modified",
  "if-modified-since",
  "if-none-match",
]);
// Longer values are taken to vary too.
const MAX_INDEXED_VALUE_LENGTH = 64;

interface StaticName {
  /** The first index with this name. */
  index: number;
  /** The index of each (name, value) pair by value. */
  values: Map<string, number>;
}
const STATIC_NAMES = new Map<string, StaticName>();
STATIC_TABLE.forEach(([name, value], i) => {
  let entry = STATIC_NAMES.get(name);
  if (!entry) {
    STATIC_NAMES.set(name, entry = { index: i + 1, values: new Map() });
  }
  entry.values.set(value, i + 1);
});

interface DynamicName {
  /** The insertion number of the newest entry with this name. */
  newest: number;
  /** The insertion number of the entry holding each value. */
  values: Map<string, number>;
}

// The encoder's dynamic table, also found by name and by (name, value).
class EncoderTable extends DynamicTable {
  byName = new Map<string, DynamicName>();

  add(name: string, value: string, size: number): void {
    this.insert(name, value, size);
    if (size > this.maxSize) return;
    let entry = this.byName.get(name);
    if (!entry) {
      this.byName.set(name, entry = { newest: 0, values: new Map() });
    }
    entry.newest = this.inserted;
    entry.values.set(value, this.inserted);
  }

  /** The HPACK index of an entry by insertion number. */
  indexOf(number: number): number {
    return STATIC_TABLE_LENGTH + this.inserted - number + 1;
  }

  protected override evicted(name: string, value: string, number: number) {
    const entry = this.byName.get(name)!;
    // Eviction goes oldest first: when the newest entry with a name leaves,
    // every older one has already left.
    if (entry.newest === number) this.byName.delete(name);
    else if (entry.values.get(value) === number) entry.values.delete(value);
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Encodes the header blocks of one direction of a connection, keeping its
 * dynamic table. Fields met again are sent as an index: static-table pairs
 * (`:status: 200`) always, others once they entered the dynamic table
 * (`content-type: application/grpc`, `grpc-status: 0`, short custom
 * fields). Secret fields are sent never-indexed; fields whose values vary
 * (`grpc-message`, `:path`, `grpc-timeout`, values over 64 bytes) are sent
 * without indexing, by name index when there is one.
 */
export class HpackEncoder {
  #table: EncoderTable;
  // The largest table this encoder uses, whatever the peer allows.
  #cap: number;
  // The maximum size the peer's decoder knows of, and the size changes
  // since the last block: the smallest and the last (RFC 7541 §4.2).
  #announced = DEFAULT_TABLE_SIZE;
  #changed = false;
  #smallest = 0;
  #buf = new Uint8Array(512);
  #pos = 0;

  /**
   * An encoder using a dynamic table of at most `maxTableSize` bytes
   * (default 4096). The peer's decoder starts at the protocol's 4096; a
   * smaller `maxTableSize` is announced at the start of the first block.
   */
  constructor(maxTableSize: number = DEFAULT_TABLE_SIZE) {
    this.#cap = maxTableSize;
    this.#table = new EncoderTable(Math.min(maxTableSize, DEFAULT_TABLE_SIZE));
    if (this.#table.maxSize !== this.#announced) {
      this.#changed = true;
      this.#smallest = this.#table.maxSize;
    }
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: the next block starts with a size update when needed. */
  setMaxTableSize(size: number): void {
    const next = Math.min(size, this.#cap);
    this.#smallest = this.#changed ? Math.min(this.#smallest, next) : next;
    this.#changed = true;
    this.#table.resize(next);
  }

  /**
   * Encodes `fields`, in order, into one header block.
   *
   * The block is a view of the encoder's own buffer, valid until the next
   * `encode`: copy it (into a frame) before encoding again. (A fresh array
   * per block would cost more than encoding a typical one.)
   */
  encode(fields: Iterable<HeaderField>): Uint8Array {
    this.#pos = 0;
    if (this.#changed) this.#sizeUpdates();
    for (const [name, value] of fields) this.#field(name, value);
    return this.#buf.subarray(0, this.#pos);
  }

  #sizeUpdates(): void {
    const last = this.#table.maxSize;
    const dipped = this.#smallest < last && this.#smallest < this.#announced;
    this.#reserve(12);
    if (dipped) this.#integer(0x20, 5, this.#smallest);
    if (dipped || last !== this.#announced) this.#integer(0x20, 5, last);
    this.#announced = last;
    this.#changed = false;
  }

  #field(name: string, value: string): void {
    const table = this.#table;
    const known = STATIC_NAMES.get(name);
    let index = known?.values.get(value) ?? 0;
    if (index > 0) return this.#indexed(index);
    const dynamic = table.byName.get(name);
    if (dynamic) {
      const number = dynamic.values.get(value);
      if (number !== undefined) return this.#indexed(table.indexOf(number));
    }
    index = known ? known.index : dynamic ? table.indexOf(dynamic.newest) : 0;
    if (NEVER_INDEXED.has(name)) {
      this.#literal(0x10, 4, index, name, value, false);
    } else if (
      value.length > MAX_INDEXED_VALUE_LENGTH ||
      (value !== "" && NOT_INDEXED.has(name))
    ) {
      this.#literal(0x00, 4, index, name, value, false);
    } else {
      const start = this.#pos;
      const size = ENTRY_OVERHEAD + (index > 0 ? byteLength(name) : 0) +
        this.#literal(0x40, 6, index, name, value, true);
      if (size <= table.maxSize) {
        table.add(name, value, size);
      } else {
        // Inserting would empty the table for an entry that cannot stay.
        this.#pos = start;
        this.#literal(0x00, 4, index, name, value, false);
      }
    }
  }

  #indexed(index: number): void {
    this.#reserve(6);
    this.#integer(0x80, 7, index);
  }

  // Writes a literal field and returns the bytes of the strings it wrote,
  // before Huffman coding.
  #literal(
    pattern: number,
    prefixBits: number,
    nameIndex: number,
    name: string,
    value: string,
    huffman: boolean,
  ): number {
    this.#reserve(6);
    this.#integer(pattern, prefixBits, nameIndex);
    const nameBytes = nameIndex === 0 ? this.#string(name, huffman) : 0;
    return nameBytes + this.#string(value, huffman);
  }

  // Writes a string literal, Huffman-coded if asked and shorter, and
  // returns its length in bytes before coding.
  #string(text: string, huffman: boolean): number {
    const length = text.length;
    if (huffman) {
      const coded = huffmanEncodedLength(text);
      if (coded >= 0 && coded < length) {
        this.#reserve(6 + coded);
        this.#integer(0x80, 7, coded);
        this.#pos = huffmanEncode(text, this.#buf, this.#pos);
        return length;
      }
    }
    this.#reserve(6 + length);
    const start = this.#pos;
    this.#integer(0x00, 7, length);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) return this.#utf8String(text, start);
      buf[pos++] = c;
    }
    this.#pos = pos;
    return length;
  }

  // A string with characters above U+00FF goes as UTF-8, never Huffman-coded.
  #utf8String(text: string, start: number): number {
    const bytes = utf8Encoder.encode(text);
    this.#pos = start;
    this.#reserve(6 + bytes.length);
    this.#integer(0x00, 7, bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return bytes.length;
  }

  // An integer with an n-bit prefix (§5.1); `pattern` holds the bits above
  // the prefix. The caller reserved room (at most 6 bytes).
  #integer(pattern: number, prefixBits: number, value: number): void {
    const buf = this.#buf;
    const max = (1 << prefixBits) - 1;
    if (value < max) {
      buf[this.#pos++] = pattern | value;
      return;
    }
    buf[this.#pos++] = pattern | max;
    value -= max;
    while (value >= 0x80) {
      buf[this.#pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    buf[this.#pos++] = value;
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = new Uint8Array(
      Math.max(2 * this.#buf.length, this.#pos + bytes),
    );
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
  }
}

/** The bytes `text` takes on the wire: one per character, or UTF-8. */
function byteLength(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return utf8Encoder.encode(text).length;
  }
  return text.length;
}
