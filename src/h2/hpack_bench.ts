/**
 * HPACK's cost on a gRPC server's hot path: decoding the request blocks a
 * Go gRPC client sends (`deno bench src/h2/hpack_bench.ts`), and encoding
 * the response headers and trailers.
 *
 * The request blocks are made the way Go's HPACK encoder makes them:
 * every field with incremental indexing, strings Huffman-coded when
 * shorter. The first block of a connection carries every field as a
 * literal; later ones are indexes plus the new grpc-timeout.
 */
import { huffmanEncode, huffmanEncodedLength } from "./_huffman.ts";
import { type HeaderField, HpackDecoder, HpackEncoder } from "./hpack.ts";

const STATIC_NAMES: Record<string, number> = {
  ":authority": 1,
  ":method": 2,
  ":path": 4,
  ":scheme": 6,
  "content-type": 31,
  "user-agent": 58,
};

function requestFields(timeout: string): HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/containerd.services.version.v1.Version/Version"],
    [":authority", "/run/berth/berth.sock"],
    ["content-type", "application/grpc"],
    ["user-agent", "grpc-go/1.59.0"],
    ["te", "trailers"],
    ["containerd-namespace", "default"],
    ["grpc-timeout", timeout],
  ];
}

function integer(out: number[], pattern: number, bits: number, value: number) {
  const max = (1 << bits) - 1;
  if (value < max) return out.push(pattern | value);
  out.push(pattern | max);
  for (value -= max; value >= 0x80; value = Math.floor(value / 128)) {
    out.push((value & 0x7f) | 0x80);
  }
  out.push(value);
}

function huffmanString(out: number[], text: string) {
  const coded = new Uint8Array(huffmanEncodedLength(text));
  huffmanEncode(text, coded, 0);
  integer(out, 0x80, 7, coded.length);
  out.push(...coded);
}

/** A literal with incremental indexing of each field, Huffman-coded. */
function firstBlock(fields: HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ":method" && value === "POST") {
      out.push(0x83);
      continue;
    }
    if (name === ":scheme" && value === "http") {
      out.push(0x86);
      continue;
    }
    integer(out, 0x40, 6, STATIC_NAMES[name] ?? 0);
    if (!STATIC_NAMES[name]) huffmanString(out, name);
    huffmanString(out, value);
  }
  return Uint8Array.from(out);
}

/**
 * The next request: indexes into the table the first block filled (7
 * entries, grpc-timeout the newest), and a new grpc-timeout by name index.
 */
function laterBlock(timeout: string): Uint8Array {
  // Dynamic indexes: 62 grpc-timeout, 63 containerd-namespace, 64 te,
  // 65 user-agent, 66 content-type, 67 :authority, 68 :path.
  const out = [
    0x83,
    0x86,
    0x80 | 68,
    0x80 | 67,
    0x80 | 66,
    0x80 | 65,
    0x80 | 64,
    0x80 | 63,
  ];
  integer(out, 0x40, 6, 62);
  huffmanString(out, timeout);
  return Uint8Array.from(out);
}

const first = firstBlock(requestFields("9999891u"));
const later = laterBlock("9999874u");

// Checked once, so the bench measures a decode that is right.
{
  const decoder = new HpackDecoder();
  const a = JSON.stringify(decoder.decode(first));
  const b = JSON.stringify(decoder.decode(later));
  if (a !== JSON.stringify(requestFields("9999891u"))) throw new Error(a);
  const expected = requestFields("9999891u");
  expected[8] = ["grpc-timeout", "9999874u"];
  if (b !== JSON.stringify(expected)) throw new Error(b);
}

Deno.bench("decode a Go gRPC client's first request block (all literals)", {
  group: "decode",
}, () => {
  new HpackDecoder().decode(first);
});

const steady = new HpackDecoder();
steady.decode(first);
Deno.bench("decode a later request block (indexes, one new literal)", {
  group: "decode",
  baseline: true,
}, () => {
  steady.decode(later);
});

const encoder = new HpackEncoder();
const headers: HeaderField[] = [[":status", "200"], [
  "content-type",
  "application/grpc",
]];
const trailers: HeaderField[] = [["grpc-status", "0"], ["grpc-message", ""]];
Deno.bench("encode a unary response's headers and trailers", {
  group: "encode",
  baseline: true,
}, () => {
  encoder.encode(headers);
  encoder.encode(trailers);
});

const failing: HeaderField[] = [
  ["grpc-status", "5"],
  ["grpc-message", "container%20%22c1%22%3A%20not%20found"],
];
Deno.bench("encode an error's trailers (grpc-message not indexed)", {
  group: "encode",
}, () => {
  encoder.encode(failing);
});
