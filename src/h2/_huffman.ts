/**
 * HPACK's static Huffman code (RFC 7541 Appendix B): decoding with a nibble
 * automaton and encoding of latin1 strings.
 *
 * The RFC's code is canonical: codes are handed out in order of code length,
 * then of symbol value, each one the previous plus one, shifted left when the
 * length grows. So the 257 code lengths below are the whole table; the codes
 * are generated from them (the tests check the result against codes printed
 * in the RFC and that the Kraft sum is exactly 1).
 *
 * @module
 */

/** The end-of-string symbol: a decoder meeting it in a string must fail. */
export const EOS = 256;

// Code length in bits of each symbol 0..255 and EOS (256), RFC 7541 Appendix B.
// deno-fmt-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20 ' '..'/'
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30 '0'..'?'
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40 '@'..'O'
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50 'P'..'_'
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60 '`'..'o'
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70 'p'..0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // EOS
];

/** Code length in bits of each symbol, EOS included. */
export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.from(CODE_LENGTHS);

/** The code of each symbol, EOS included, right-aligned. */
export const HUFFMAN_CODES: Uint32Array = canonicalCodes(HUFFMAN_LENGTHS);

function canonicalCodes(lengths: Uint8Array): Uint32Array {
  const order = Array.from(lengths.keys()).sort((a, b) =>
    lengths[a] - lengths[b] || a - b
  );
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let length = lengths[order[0]];
  for (const symbol of order) {
    code *= 2 ** (lengths[symbol] - length);
    length = lengths[symbol];
    codes[symbol] = code;
    code++;
  }
  return codes;
}

// The decoding automaton. Its states are the 256 inner nodes of the code
// tree (state 0 is the root); each step eats 4 bits. With no code shorter
// than 5 bits, one step completes at most one symbol. An entry of
// TRANSITIONS holds the next state in bits 0-7, the emitted symbol in bits
// 8-15 and the flags below.
const EMITS = 1 << 16;
const FAILS = 1 << 17;
const TRANSITIONS = new Uint32Array(256 * 16);
// Whether ending a string in a state is allowed: the bits since the last
// symbol are all ones and fewer than 8 (RFC 7541 §5.2 padding).
const ACCEPTS = new Uint8Array(256);

function buildAutomaton(): void {
  // children[2 * node + bit]: an inner node's number, or ~symbol for a leaf.
  const children = new Int32Array(2 * 256).fill(-0x7fffffff);
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const length = HUFFMAN_LENGTHS[symbol];
    const code = HUFFMAN_CODES[symbol];
    let node = 0;
    for (let i = length - 1; i >= 0; i--) {
      const slot = 2 * node + (Math.floor(code / 2 ** i) & 1);
      if (i === 0) {
        children[slot] = ~symbol;
      } else {
        if (children[slot] === -0x7fffffff) children[slot] = nodes++;
        node = children[slot];
      }
    }
  }
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[2 * node + ((nibble >> bit) & 1)];
        if (child >= 0) {
          node = child;
        } else if (~child === EOS) {
          entry |= FAILS;
          node = 0;
        } else {
          entry |= EMITS | (~child << 8);
          node = 0;
        }
      }
      TRANSITIONS[state * 16 + nibble] = entry | node;
    }
  }
  let node = 0;
  for (let depth = 0; depth < 8; depth++) {
    ACCEPTS[node] = 1;
    node = children[2 * node + 1];
  }
}
buildAutomaton();

/**
 * Decodes the Huffman-coded bytes `src[start..end)` into `out` and returns
 * how many bytes it wrote, or -1 if the input holds the EOS symbol or ends
 * in padding that is not a run of fewer than 8 one bits. `out` must hold at
 * least `maxDecodedLength(end - start)` bytes.
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let state = 0;
  let written = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    let entry = TRANSITIONS[(state << 4) | (byte >> 4)];
    if (entry & (EMITS | FAILS)) {
      if (entry & FAILS) return -1;
      out[written++] = entry >> 8;
    }
    entry = TRANSITIONS[((entry & 0xff) << 4) | (byte & 0xf)];
    if (entry & (EMITS | FAILS)) {
      if (entry & FAILS) return -1;
      out[written++] = entry >> 8;
    }
    state = entry & 0xff;
  }
  return ACCEPTS[state] === 1 ? written : -1;
}

/** The most bytes `length` Huffman-coded bytes can decode to (5-bit codes). */
export function maxDecodedLength(length: number): number {
  return Math.ceil(length * 8 / 5);
}

/**
 * How many bytes the Huffman code of `text` takes, or -1 if `text` holds a
 * character above U+00FF (only latin1 strings are Huffman-coded).
 */
export function huffmanEncodedLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return -1;
    bits += HUFFMAN_LENGTHS[c];
  }
  return (bits + 7) >> 3;
}

/**
 * Writes the Huffman code of the latin1 string `text` into `out` from
 * `offset` (room for `huffmanEncodedLength(text)` bytes is the caller's
 * business) and returns the offset after it.
 */
export function huffmanEncode(
  text: string,
  out: Uint8Array,
  offset: number,
): number {
  // `pending` holds the `bits` (< 8) low bits not yet written; a code of up
  // to 24 bits fits beside them in 32 bits, longer ones go in two parts.
  let pending = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const code = HUFFMAN_CODES[c];
    const length = HUFFMAN_LENGTHS[c];
    if (length > 24) {
      pending = (pending << (length - 16)) | (code >>> 16);
      bits += length - 16;
      while (bits >= 8) {
        bits -= 8;
        out[offset++] = pending >>> bits;
      }
      pending = ((pending & ((1 << bits) - 1)) << 16) | (code & 0xffff);
      bits += 16;
    } else {
      pending = (pending << length) | code;
      bits += length;
    }
    while (bits >= 8) {
      bits -= 8;
      out[offset++] = pending >>> bits;
    }
    pending &= (1 << bits) - 1;
  }
  // Pad with the most significant bits of EOS: ones.
  if (bits > 0) out[offset++] = (pending << (8 - bits)) | (0xff >> bits);
  return offset;
}
