import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { GoawayFilter } from "./_goaway.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

function frame(type: number, payload: number[], stream = 0): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, Buffer.from(payload)]);
}

const SETTINGS = frame(0x4, [0, 3, 0, 0, 0, 100]);
const HEADERS = frame(0x1, [1, 2, 3, 4, 5], 1);
const DATA = frame(0x0, Array.from({ length: 40 }, (_, i) => i), 1);
const GOAWAY = frame(0x7, [0, 0, 0, 1, 0, 0, 0, 0, 9, 9]);
const PING = frame(0x6, [1, 2, 3, 4, 5, 6, 7, 8]);

/** Feeds `input` cut at `cuts` and joins what passes. */
function feed(input: Buffer, cuts: number[]): Buffer {
  const filter = new GoawayFilter();
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...cuts, input.length]) {
    out.push(filter.push(input.subarray(from, at)));
    from = at;
  }
  return Buffer.concat(out);
}

Deno.test("GOAWAY frames are cut out, whatever the chunking", () => {
  const input = Buffer.concat([
    PREFACE,
    SETTINGS,
    HEADERS,
    GOAWAY,
    DATA,
    GOAWAY,
    PING,
  ]);
  const expected = Buffer.concat([PREFACE, SETTINGS, HEADERS, DATA, PING]);
  assert.deepEqual(feed(input, []), expected);
  for (let a = 1; a < input.length; a++) {
    assert.deepEqual(feed(input, [a]), expected, `cut at ${a}`);
  }
  for (let size = 1; size < 12; size++) {
    const cuts = [];
    for (let at = size; at < input.length; at += size) cuts.push(at);
    assert.deepEqual(feed(input, cuts), expected, `chunks of ${size}`);
  }
});

Deno.test("a chunk without a GOAWAY passes as itself", () => {
  const filter = new GoawayFilter();
  const first = Buffer.concat([PREFACE, SETTINGS, HEADERS]);
  assert.equal(filter.push(first), first);
  assert.equal(filter.push(DATA), DATA);
});

Deno.test("with onReset, RST_STREAM frames are cut out and their streams reported", () => {
  const reset = (id: number) => frame(0x3, [0, 0, 0, 8], id);
  const input = Buffer.concat([
    PREFACE,
    HEADERS,
    reset(1),
    DATA,
    reset(7),
    PING,
  ]);
  const expected = Buffer.concat([PREFACE, HEADERS, DATA, PING]);
  for (let a = 1; a < input.length; a += 3) {
    const ids: number[] = [];
    const filter = new GoawayFilter((id) => ids.push(id));
    const out = Buffer.concat([
      filter.push(input.subarray(0, a)),
      filter.push(input.subarray(a)),
    ]);
    assert.deepEqual(out, expected, `cut at ${a}`);
    assert.deepEqual(ids, [1, 7]);
  }
  // Without it, resets pass.
  assert.deepEqual(feed(input, []), input);
});
