/**
 * String order by UTF-8 bytes: Go's order for sorted names and map keys.
 *
 * @module
 */

/**
 * Compares two strings by their UTF-8 bytes, without encoding them
 * (JavaScript's `<` orders UTF-16 code units, which differs above U+FFFF).
 */
export function compareUTF8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** UTF-16 units ranked so surrogates (code points above U+FFFF) sort last. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
