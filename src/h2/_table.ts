/**
 * HPACK's header tables (RFC 7541 §2.3): the static table and the dynamic
 * table with its size accounting and eviction.
 *
 * @module
 */

/** RFC 7541 Appendix A, index 1 first. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** How many entries the static table has; dynamic indexes follow it. */
export const STATIC_TABLE_LENGTH = 61;

/** The size an entry counts for in a dynamic table (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;

/**
 * A dynamic table: a ring of entries, newest first, evicting the oldest
 * when the sum of entry sizes would pass `maxSize`.
 *
 * Entries are numbered by insertion (`inserted` counts them); the entry
 * inserted as number `n` lives in slot `n & mask`, and its HPACK index is
 * `STATIC_TABLE_LENGTH + inserted - n + 1`.
 */
export class DynamicTable {
  /** Entry names by slot. */
  names: string[] = [];
  /** Entry values by slot. */
  values: string[] = [];
  /** Entry sizes (overhead included) by slot. */
  sizes: number[] = [];
  /** Slot count minus one; the slot count is a power of two. */
  mask = -1;
  /** How many entries were ever inserted. */
  inserted = 0;
  /** How many entries the table holds. */
  length = 0;
  /** The sum of the held entries' sizes. */
  size = 0;
  /** The current maximum of `size`. */
  maxSize: number;

  /** A table whose size may not pass `maxSize`. */
  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** The slot of dynamic index `index` (1 is the newest), or -1 if none. */
  slotOf(index: number): number {
    return index >= 1 && index <= this.length
      ? (this.inserted - index + 1) & this.mask
      : -1;
  }

  /**
   * Adds an entry of `size` bytes (overhead included), evicting the oldest
   * until it fits. An entry larger than `maxSize` empties the table and is
   * not added (RFC 7541 §4.4).
   */
  insert(name: string, value: string, size: number): void {
    while (this.length > 0 && this.size + size > this.maxSize) {
      this.evictOldest();
    }
    if (size > this.maxSize) return;
    if (this.length === this.mask + 1) this.grow();
    const slot = ++this.inserted & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.sizes[slot] = size;
    this.length++;
    this.size += size;
  }

  /** Sets the maximum size, evicting the oldest entries until they fit. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    while (this.size > maxSize) this.evictOldest();
  }

  /** Called for each entry leaving the table; a subclass may track them. */
  protected evicted(_name: string, _value: string, _number: number): void {}

  private evictOldest(): void {
    const number = this.inserted - this.length + 1;
    const slot = number & this.mask;
    this.evicted(this.names[slot], this.values[slot], number);
    this.size -= this.sizes[slot];
    this.names[slot] = this.values[slot] = "";
    this.length--;
  }

  private grow(): void {
    const slots = Math.max(16, 2 * (this.mask + 1));
    const names = new Array<string>(slots).fill("");
    const values = new Array<string>(slots).fill("");
    const sizes = new Array<number>(slots).fill(0);
    for (let n = this.inserted - this.length + 1; n <= this.inserted; n++) {
      const from = n & this.mask;
      const to = n & (slots - 1);
      names[to] = this.names[from];
      values[to] = this.values[from];
      sizes[to] = this.sizes[from];
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.mask = slots - 1;
  }
}
