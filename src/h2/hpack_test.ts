import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type HeaderField,
  HeaderListTooLargeError,
  HpackDecoder,
  HpackEncoder,
  HpackError,
} from "./hpack.ts";

function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g)!.map((h) => parseInt(h, 16)));
}

/**
 * The dynamic table as the decoder holds it, newest first, read through
 * indexed fields (62, 63, …) until an index is refused.
 */
function tableOf(decoder: HpackDecoder): HeaderField[] {
  const entries: HeaderField[] = [];
  for (let index = 62;; index++) {
    const block = index < 127
      ? Uint8Array.of(0x80 | index)
      : Uint8Array.of(0xff, index - 127);
    try {
      entries.push(...decoder.decode(block));
    } catch (e) {
      assert.ok(e instanceof HpackError);
      return entries;
    }
  }
}

function sizeOf(entries: HeaderField[]): number {
  return entries.reduce((sum, [n, v]) => sum + 32 + n.length + v.length, 0);
}

interface Step {
  block: string;
  fields: HeaderField[];
  table: HeaderField[];
  size: number;
}

function runSteps(decoder: HpackDecoder, steps: Step[]): void {
  for (const [i, step] of steps.entries()) {
    assert.deepEqual(
      decoder.decode(hex(step.block)),
      step.fields,
      `block ${i + 1}`,
    );
    const table = tableOf(decoder);
    assert.deepEqual(table, step.table, `table after block ${i + 1}`);
    assert.equal(sizeOf(table), step.size);
  }
}

const authority: HeaderField = [":authority", "www.example.com"];
const request1: HeaderField[] = [[":method", "GET"], [":scheme", "http"], [
  ":path",
  "/",
], authority];
const request2: HeaderField[] = [...request1, ["cache-control", "no-cache"]];
const request3: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  authority,
  ["custom-key", "custom-value"],
];
const requestTables: HeaderField[][] = [
  [authority],
  [["cache-control", "no-cache"], authority],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], authority],
];

const date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const location = "https://www.example.com";
const cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const response1: HeaderField[] = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", date1],
  ["location", location],
];
const response2: HeaderField[] = [[":status", "307"], ...response1.slice(1)];
const response3: HeaderField[] = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", date2],
  ["location", location],
  ["content-encoding", "gzip"],
  ["set-cookie", cookie],
];
const responseTables: HeaderField[][] = [
  [["location", location], ["date", date1], ["cache-control", "private"], [
    ":status",
    "302",
  ]],
  [[":status", "307"], ["location", location], ["date", date1], [
    "cache-control",
    "private",
  ]],
  [["set-cookie", cookie], ["content-encoding", "gzip"], ["date", date2]],
];

Deno.test("decoder: RFC 7541 C.2 single fields of each representation", () => {
  const cases: [string, HeaderField, HeaderField[]][] = [
    [
      "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
      ["custom-key", "custom-header"],
      [["custom-key", "custom-header"]],
    ],
    ["040c 2f73 616d 706c 652f 7061 7468", [":path", "/sample/path"], []],
    ["1008 7061 7373 776f 7264 0673 6563 7265 74", ["password", "secret"], []],
    ["82", [":method", "GET"], []],
  ];
  for (const [block, field, table] of cases) {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex(block)), [field]);
    assert.deepEqual(tableOf(decoder), table);
  }
  const decoder = new HpackDecoder();
  decoder.decode(hex(cases[0][0]));
  assert.equal(sizeOf(tableOf(decoder)), 55);
});

Deno.test("decoder: RFC 7541 C.3 requests without Huffman coding", () => {
  runSteps(new HpackDecoder(), [
    {
      block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      fields: request1,
      table: requestTables[0],
      size: 57,
    },
    {
      block: "8286 84be 5808 6e6f 2d63 6163 6865",
      fields: request2,
      table: requestTables[1],
      size: 110,
    },
    {
      block:
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      fields: request3,
      table: requestTables[2],
      size: 164,
    },
  ]);
});

Deno.test("decoder: RFC 7541 C.4 requests with Huffman coding", () => {
  runSteps(new HpackDecoder(), [
    {
      block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      fields: request1,
      table: requestTables[0],
      size: 57,
    },
    {
      block: "8286 84be 5886 a8eb 1064 9cbf",
      fields: request2,
      table: requestTables[1],
      size: 110,
    },
    {
      block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      fields: request3,
      table: requestTables[2],
      size: 164,
    },
  ]);
});

Deno.test("decoder: RFC 7541 C.5 responses without Huffman coding, evicting from a 256-byte table", () => {
  runSteps(new HpackDecoder({ maxTableSize: 256 }), [
    {
      block:
        `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
        2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      fields: response1,
      table: responseTables[0],
      size: 222,
    },
    {
      block: "4803 3330 37c1 c0bf",
      fields: response2,
      table: responseTables[1],
      size: 222,
    },
    {
      block:
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
        54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
        5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
      fields: response3,
      table: responseTables[2],
      size: 215,
    },
  ]);
});

Deno.test("decoder: RFC 7541 C.6 responses with Huffman coding, evicting from a 256-byte table", () => {
  runSteps(new HpackDecoder({ maxTableSize: 256 }), [
    {
      block:
        `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
        2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      fields: response1,
      table: responseTables[0],
      size: 222,
    },
    {
      block: "4883 640e ffc1 c0bf",
      fields: response2,
      table: responseTables[1],
      size: 222,
    },
    {
      block:
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
        77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
        9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      fields: response3,
      table: responseTables[2],
      size: 215,
    },
  ]);
});

function assertHpackError(
  decoder: HpackDecoder,
  block: Uint8Array,
  message: RegExp,
): void {
  assert.throws(() => decoder.decode(block), (e: unknown) => {
    assert.ok(e instanceof HpackError, `${e}`);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("decoder: malformed blocks throw HpackError", () => {
  const cases: [string, string, RegExp][] = [
    ["index 0", "80", /index 0/],
    ["index past the static table of an empty dynamic table", "be", /index 62/],
    ["index far past", "ff 80 01", /index 255/],
    ["name index past the table", "7f 00 01 61", /index 63/],
    ["integer cut short", "ff", /inside an integer/],
    ["integer continuation cut short", "ff 80", /inside an integer/],
    ["integer too large", "ff ff ff ff ff ff 7f", /too large/],
    ["endless integer", "ff" + " 80".repeat(40), /too large/],
    [
      "integer padded with zero bytes",
      "ff" + " 80".repeat(200) + " 01",
      /too large/,
    ],
    [
      "string length padded with zero bytes",
      "40 7f" + " 80".repeat(200) + " 00",
      /too large/,
    ],
    ["integer of 6 continuation bytes", "ff 80 80 80 80 80 00", /too large/],
    ["no value after a name", "41", /before a string/],
    ["string cut short", "41 03 61 62", /inside a string/],
    ["huge string length", "41 7f ff ff ff 0f", /inside a string/],
    ["literal name cut short", "40 05 61", /inside a string/],
    ["Huffman padding of 8 bits", "41 82 1f ff", /Huffman/],
    ["Huffman padding not ones", "41 81 1e", /Huffman/],
    ["Huffman EOS", "41 84 ff ff ff ff", /Huffman/],
    ["size update above the maximum", "3f e2 1f", /above the 4096/],
    ["size update after a field", "82 20", /after a header field/],
  ];
  for (const [what, block, message] of cases) {
    try {
      assertHpackError(new HpackDecoder(), hex(block), message);
    } catch (e) {
      throw new Error(`${what}: ${e}`);
    }
  }
  // The longest integer taken: 5 continuation bytes, up to 2^32 - 1.
  assertHpackError(
    new HpackDecoder(),
    hex("ff 80 80 80 80 00"),
    /index 127 is past/,
  );
  assertHpackError(
    new HpackDecoder(),
    hex("ff 80 ff ff ff 0f"),
    /index 4294967295 is past/,
  );
  assertHpackError(new HpackDecoder(), hex("ff 81 ff ff ff 0f"), /too large/);
  // Size updates at the start are fine, two of them too, up to the maximum.
  const decoder = new HpackDecoder();
  assert.deepEqual(decoder.decode(hex("20 3f e1 1f 82")), [[":method", "GET"]]);
  // A size update to 0 empties the table.
  decoder.decode(hex("41 01 61"));
  assert.deepEqual(tableOf(decoder), [[":authority", "a"]]);
  decoder.decode(hex("20 3f e1 1f"));
  assert.deepEqual(tableOf(decoder), []);
  // A smaller maximum is enforced.
  assertHpackError(
    new HpackDecoder({ maxTableSize: 100 }),
    hex("3f 46"),
    /101 bytes, above the 100/,
  );
});

Deno.test("decoder: an entry larger than the table empties it and is not added", () => {
  const decoder = new HpackDecoder({ maxTableSize: 64 });
  decoder.decode(hex("41 01 61"));
  assert.deepEqual(tableOf(decoder), [[":authority", "a"]]);
  const long = "x".repeat(40);
  const block = Uint8Array.of(
    0x41,
    long.length,
    ...new TextEncoder().encode(long),
  );
  assert.deepEqual(decoder.decode(block), [[":authority", long]]);
  assert.deepEqual(tableOf(decoder), []);
});

Deno.test("decoder: a literal naming the entry its own insertion evicts keeps that name (RFC 7541 §4.4)", () => {
  const decoder = new HpackDecoder({ maxTableSize: 70 });
  assert.deepEqual(decoder.decode(hex("40 01 78 04 61616161")), [[
    "x",
    "aaaa",
  ]]);
  // 37 + 41 bytes do not fit in 70: entry 62 leaves as its name is reused.
  assert.deepEqual(decoder.decode(hex("7e 08 6262626262626262")), [[
    "x",
    "bbbbbbbb",
  ]]);
  assert.deepEqual(tableOf(decoder), [["x", "bbbbbbbb"]]);
});

Deno.test("decoder: a header list past the limit throws HeaderListTooLargeError after the whole block, and the table stays in step", () => {
  const decoder = new HpackDecoder({ maxHeaderListSize: 120 });
  const encoder = new HpackEncoder();
  const big: HeaderField[] = [
    ["x-a", "1".repeat(40)],
    ["x-b", "2".repeat(40)],
    ["x-c", "3"],
  ];
  assert.throws(() => decoder.decode(encoder.encode(big)), (e: unknown) => {
    assert.ok(e instanceof HeaderListTooLargeError);
    assert.match(e.message, /header list of 186 bytes, above the 120/);
    return true;
  });
  // All three fields entered the table, the last one too.
  assert.deepEqual(tableOf(decoder), [big[2], big[1], big[0]]);
  const small: HeaderField[] = [["x-c", "3"], ["x-a", "1".repeat(40)]];
  const block = encoder.encode(small);
  assert.deepEqual(Array.from(block), [0xbe, 0xc0]);
  assert.deepEqual(decoder.decode(block), small);
  // Exactly at the limit passes (":authority" + "abc" + 32 = 45), one below not.
  const exact = hex("41 03 61 62 63");
  assert.deepEqual(new HpackDecoder({ maxHeaderListSize: 45 }).decode(exact), [[
    ":authority",
    "abc",
  ]]);
  assert.throws(
    () => new HpackDecoder({ maxHeaderListSize: 44 }).decode(exact),
    HeaderListTooLargeError,
  );
});

Deno.test("decoder: bytes 0x80-0xff come out as latin1 characters, raw or Huffman-coded", () => {
  const decoder = new HpackDecoder();
  const value = Array.from(
    { length: 128 },
    (_, i) => String.fromCharCode(0x80 + i),
  ).join("");
  const raw = Uint8Array.of(
    0x00,
    0x01,
    0x61,
    0x7f,
    0x01,
    ...Array.from(value, (c) => c.charCodeAt(0)),
  );
  assert.deepEqual(decoder.decode(raw), [["a", value]]);
  // A long ASCII value goes through the other conversion path.
  const ascii = "abc".repeat(100);
  const block = new HpackEncoder().encode([["x-long", ascii], [
    "x-high",
    value + ascii,
  ]]);
  assert.deepEqual(decoder.decode(block), [["x-long", ascii], [
    "x-high",
    value + ascii,
  ]]);
});

Deno.test("encoder: a gRPC server's second response and trailers are a few bytes", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const headers: HeaderField[] = [[":status", "200"], [
    "content-type",
    "application/grpc",
  ]];
  const trailers: HeaderField[] = [["grpc-status", "0"], ["grpc-message", ""], [
    "x-custom",
    "value",
  ]];
  // Each block is copied: encode reuses its buffer.
  const first = [
    encoder.encode(headers).slice(),
    encoder.encode(trailers).slice(),
  ];
  const second = [
    encoder.encode(headers).slice(),
    encoder.encode(trailers).slice(),
  ];
  for (const blocks of [first, second]) {
    assert.deepEqual(decoder.decode(blocks[0]), headers);
    assert.deepEqual(decoder.decode(blocks[1]), trailers);
  }
  // :status 200 is static index 8; content-type entered the dynamic table
  // first, before grpc-status: 0, grpc-message: "" and x-custom: value.
  assert.deepEqual(Array.from(second[0]), [0x88, 0x80 | 65]);
  assert.deepEqual(Array.from(second[1]), [0x80 | 64, 0x80 | 63, 0x80 | 62]);
  const message = "message that varies";
  const withMessage = encoder.encode([["grpc-status", "2"], [
    "grpc-message",
    message,
  ]]);
  assert.deepEqual(decoder.decode(withMessage), [["grpc-status", "2"], [
    "grpc-message",
    message,
  ]]);
  const again = encoder.encode([["grpc-message", message]]);
  assert.ok(
    again.length > message.length,
    "grpc-message values are not indexed",
  );
  // Secret fields go never-indexed (0x10) with their static name index.
  assert.deepEqual(Array.from(encoder.encode([["authorization", "x"]])), [
    0x1f,
    0x08,
    0x01,
    0x78,
  ]);
});

Deno.test("encoder: setMaxTableSize announces the change at the next block's start", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const fields: HeaderField[] = [["x-a", "1"], ["x-b", "2"]];
  decoder.decode(encoder.encode(fields));
  assert.equal(tableOf(decoder).length, 2);
  // Unchanged: no update.
  encoder.setMaxTableSize(4096);
  assert.deepEqual(Array.from(encoder.encode(fields)), [0xbf, 0xbe]);
  decoder.decode(encoder.encode(fields));
  // Down to 0 and back to 4096 between two blocks: both are announced.
  encoder.setMaxTableSize(0);
  encoder.setMaxTableSize(4096);
  const block = encoder.encode(fields);
  assert.deepEqual(Array.from(block.subarray(0, 4)), [0x20, 0x3f, 0xe1, 0x1f]);
  assert.deepEqual(decoder.decode(block), fields);
  assert.deepEqual(tableOf(decoder), [fields[1], fields[0]]);
  // Shrunk to 40: one entry fits; the decoder follows.
  encoder.setMaxTableSize(40);
  const small = encoder.encode(fields);
  assert.deepEqual(Array.from(small.subarray(0, 2)), [0x3f, 0x09]);
  assert.deepEqual(decoder.decode(small), fields);
  assert.deepEqual(tableOf(decoder), [fields[1]]);
  // Above the encoder's own maximum: it keeps to its own.
  const capped = new HpackEncoder(100);
  assert.deepEqual(Array.from(capped.encode([])), [0x3f, 0x45]);
  capped.setMaxTableSize(1 << 20);
  assert.deepEqual(Array.from(capped.encode([])), []);
  capped.setMaxTableSize(50);
  assert.deepEqual(Array.from(capped.encode([])), [0x3f, 0x13]);
});

Deno.test("encoder: characters above U+00FF go as UTF-8", () => {
  const encoder = new HpackEncoder();
  const value = "caf\u00e9 \u2603";
  const block = encoder.encode([["x-u", value], ["x-u", value]]);
  const utf8 = new TextEncoder().encode(value);
  const latin1 = String.fromCharCode(...utf8);
  assert.deepEqual(new HpackDecoder().decode(block), [["x-u", latin1], [
    "x-u",
    latin1,
  ]]);
});

const headerName = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
const headerValue = fc.oneof(
  fc.constantFrom("", "0", "200", "application/grpc", "/", "GET", "http"),
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 100,
  }),
);
const headerField: fc.Arbitrary<HeaderField> = fc.tuple(
  fc.oneof(
    headerName,
    fc.constantFrom(
      ":status",
      ":path",
      ":authority",
      "content-type",
      "grpc-status",
      "grpc-message",
      "authorization",
      "cookie",
      "date",
    ),
  ),
  headerValue,
);

Deno.test("round trip: random header lists through an encoder and a decoder, with table size changes", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          resize: fc.option(
            fc.array(fc.integer({ min: 0, max: 5000 }), {
              minLength: 1,
              maxLength: 3,
            }),
          ),
          fields: fc.array(headerField, { maxLength: 30 }),
        }),
        { maxLength: 20 },
      ),
      fc.integer({ min: 0, max: 8192 }),
      (blocks, cap) => {
        const encoder = new HpackEncoder(cap);
        const decoder = new HpackDecoder({ maxTableSize: 8192 });
        for (const { resize, fields } of blocks) {
          for (const size of resize ?? []) encoder.setMaxTableSize(size);
          assert.deepEqual(decoder.decode(encoder.encode(fields)), fields);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("round trip: repeated fields are indexed, and evicted ones are sent again", () => {
  const encoder = new HpackEncoder(200);
  const decoder = new HpackDecoder({ maxTableSize: 200 });
  for (let round = 0; round < 50; round++) {
    const fields: HeaderField[] = Array.from(
      { length: 8 },
      (_, i) => [`x-k${(round + i) % 11}`, `v${i % 3}`],
    );
    assert.deepEqual(decoder.decode(encoder.encode(fields)), fields);
    assert.ok(sizeOf(tableOf(decoder)) <= 200);
  }
});

Deno.test("decoder: random bytes decode or throw HpackError, and the table keeps to its size", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), {
        minLength: 1,
        maxLength: 8,
      }),
      (blocks) => {
        const decoder = new HpackDecoder({
          maxTableSize: 256,
          maxHeaderListSize: 1024,
        });
        for (const block of blocks) {
          try {
            for (const [name, value] of decoder.decode(block)) {
              assert.equal(typeof name, "string");
              assert.equal(typeof value, "string");
            }
          } catch (e) {
            if (e instanceof HeaderListTooLargeError) continue;
            assert.ok(e instanceof HpackError, `${e}`);
            return;
          }
          assert.ok(sizeOf(tableOf(decoder)) <= 256);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
