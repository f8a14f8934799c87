import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EOS,
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  maxDecodedLength,
} from "./_huffman.ts";

function encode(text: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(text));
  assert.deepEqual(huffmanEncode(text, out, 0), out.length);
  return out;
}

function decode(bytes: Uint8Array): string | null {
  const out = new Uint8Array(maxDecodedLength(bytes.length));
  const n = huffmanDecode(bytes, 0, bytes.length, out);
  return n < 0 ? null : String.fromCharCode(...out.subarray(0, n));
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!.map((h) => parseInt(h, 16)));
}

Deno.test("huffman: the code is complete (Kraft sum exactly 1) and prefix-free", () => {
  let sum = 0;
  for (const length of HUFFMAN_LENGTHS) sum += 2 ** (30 - length);
  assert.deepEqual(sum, 2 ** 30);
  assert.deepEqual(HUFFMAN_LENGTHS.length, 257);
  // Sorted by (length, symbol), each code is the previous one plus one,
  // shifted when the length grows: canonical, hence prefix-free.
  const codes = Array.from(HUFFMAN_CODES.keys()).map((s) =>
    HUFFMAN_CODES[s] * 2 ** (30 - HUFFMAN_LENGTHS[s])
  ).sort((a, b) => a - b);
  for (let i = 1; i < codes.length; i++) {
    assert.deepEqual(codes[i] > codes[i - 1], true);
  }
});

Deno.test("huffman: codes match those printed in RFC 7541 Appendix B", () => {
  // [symbol, code, length] rows copied from the RFC's table, spread over
  // every code length.
  const rows: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [2, 0xfffffe2, 28],
    [9, 0xffffea, 24],
    [10, 0x3ffffffc, 30],
    [13, 0x3ffffffd, 30],
    [22, 0x3ffffffe, 30],
    [32, 0x14, 6], // ' '
    [33, 0x3f8, 10], // '!'
    [39, 0x7fa, 11], // '\''
    [35, 0xffa, 12], // '#'
    [48, 0x0, 5], // '0'
    [58, 0x5c, 7], // ':'
    [38, 0xf8, 8], // '&'
    [60, 0x7ffc, 15], // '<'
    [92, 0x7fff0, 19], // '\\'
    [94, 0x3ffc, 14], // '^'
    [97, 0x3, 5], // 'a'
    [116, 0x9, 5], // 't'
    [122, 0x7b, 7], // 'z'
    [126, 0x1ffd, 13], // '~'
    [127, 0xffffffc, 28],
    [128, 0xfffe6, 20],
    [129, 0x3fffd2, 22],
    [153, 0x1fffdc, 21],
    [199, 0x1ffffec, 25],
    [192, 0x3ffffe0, 26],
    [203, 0x7ffffde, 27],
    [220, 0xffffffd, 28],
    [249, 0xffffffe, 28],
    [254, 0x7fffff0, 27],
    [255, 0x3ffffee, 26],
    [EOS, 0x3fffffff, 30],
  ];
  for (const [symbol, code, length] of rows) {
    assert.deepEqual(
      [HUFFMAN_CODES[symbol], HUFFMAN_LENGTHS[symbol]],
      [code, length],
      `symbol ${symbol}`,
    );
  }
});

Deno.test("huffman: RFC 7541 Appendix C strings", () => {
  const cases: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    ["302", "6402"],
    ["private", "aec3771a4b"],
    [
      "Mon, 21 Oct 2013 20:13:21 GMT",
      "d07abe941054d444a8200595040b8166e082a62d1bff",
    ],
    ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
    ["gzip", "9bd9ab"],
    [
      "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
      "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ],
  ];
  for (const [text, coded] of cases) {
    assert.deepEqual(encode(text), hex(coded), text);
    assert.deepEqual(decode(hex(coded)), text);
  }
});

Deno.test("huffman: every latin1 string round-trips", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }),
      (codes) => {
        const text = String.fromCharCode(...codes);
        assert.deepEqual(decode(encode(text)), text);
      },
    ),
  );
  let all = "";
  for (let c = 255; c >= 0; c--) all += String.fromCharCode(c);
  assert.deepEqual(decode(encode(all)), all);
  assert.deepEqual(huffmanEncodedLength("\u0100"), -1);
});

Deno.test("huffman: padding of 8 bits or more, padding with zeros and EOS are refused", () => {
  // 'a' is 00011 (5 bits): three bits of padding.
  assert.deepEqual(decode(Uint8Array.of(0b00011111)), "a");
  assert.deepEqual(decode(Uint8Array.of(0b00011110)), null); // padding not ones
  assert.deepEqual(decode(Uint8Array.of(0b00011011)), null); // one 0 in it
  assert.deepEqual(decode(Uint8Array.of(0b00011111, 0xff)), null); // 11 bits
  assert.deepEqual(decode(Uint8Array.of(0xff)), null); // 8 bits, no symbol
  assert.deepEqual(decode(Uint8Array.of(0xfe)), null); // an incomplete code
  assert.deepEqual(decode(Uint8Array.of()), "");
  // EOS (30 ones) then padding, alone or after a symbol.
  assert.deepEqual(decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), null);
  assert.deepEqual(
    decode(Uint8Array.of(0b00011111, 0xff, 0xff, 0xff, 0xff)),
    null,
  );
  // 7 bits of padding after a whole byte: '0' '0' is 00000 00000 then 111111.
  assert.deepEqual(decode(Uint8Array.of(0b00000000, 0b00111111)), "00");
});
