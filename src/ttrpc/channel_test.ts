import assert from "node:assert/strict";
import { BerthError, Code } from "../types/errors.ts";
import {
  type ByteStream,
  Channel,
  decodeHeader,
  encodeHeader,
  MESSAGE_HEADER_LENGTH,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from "./channel.ts";

/** A stream that replays `input` `chunk` bytes per read and records writes. */
class FakeStream implements ByteStream {
  written: Uint8Array[] = [];
  closed = false;
  #off = 0;
  constructor(private input: Uint8Array, private chunk = 1) {}
  read(p: Uint8Array): Promise<number | null> {
    if (this.#off >= this.input.length) return Promise.resolve(null);
    const n = Math.min(this.chunk, p.length, this.input.length - this.#off);
    p.set(this.input.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, 3); // partial writes
    this.written.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  close(): void {
    this.closed = true;
  }
}

function frame(streamId: number, type: number, data: Uint8Array): Uint8Array {
  const h = encodeHeader({ length: data.length, streamId, type, flags: 0 });
  const out = new Uint8Array(h.length + data.length);
  out.set(h);
  out.set(data, h.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("header is big-endian length, stream id, type, flags", () => {
  const h = encodeHeader({
    length: 0x01020304,
    streamId: 7,
    type: 2,
    flags: 0,
  });
  assert.deepEqual([...h], [1, 2, 3, 4, 0, 0, 0, 7, 2, 0]);
  assert.deepEqual(decodeHeader(h), {
    length: 0x01020304,
    streamId: 7,
    type: 2,
    flags: 0,
  });
});

Deno.test("recv reassembles frames from one-byte reads", async () => {
  const input = concat([
    frame(1, MessageType.Request, new Uint8Array([1, 2, 3])),
    frame(3, MessageType.Request, new Uint8Array()),
  ]);
  const ch = new Channel(new FakeStream(input, 1));
  const a = await ch.recv();
  assert.equal(a?.header.streamId, 1);
  assert.deepEqual(a?.data, new Uint8Array([1, 2, 3]));
  const b = await ch.recv();
  assert.equal(b?.header.streamId, 3);
  assert.deepEqual(b?.data, new Uint8Array());
  assert.equal(await ch.recv(), null);
});

Deno.test("recv handles a frame larger than the initial buffer", async () => {
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const ch = new Channel(new FakeStream(frame(5, 2, big), 7000));
  assert.deepEqual((await ch.recv())?.data, big);
});

Deno.test("recv throws when the stream ends mid-frame", async () => {
  const f = frame(1, 1, new Uint8Array([1, 2, 3]));
  const ch = new Channel(new FakeStream(f.subarray(0, f.length - 1), 4));
  await assert.rejects(ch.recv(), (e) => BerthError.is(e, Code.Unavailable));
});

Deno.test("oversized incoming data is discarded as a per-stream error", async () => {
  const header = encodeHeader({
    length: MESSAGE_LENGTH_MAX + 1,
    streamId: 9,
    type: 1,
    flags: 0,
  });
  const input = concat([
    header,
    new Uint8Array(MESSAGE_LENGTH_MAX + 1),
    frame(11, 1, new Uint8Array([42])),
  ]);
  const ch = new Channel(new FakeStream(input, 1 << 16));
  const bad = await ch.recv();
  assert.equal(bad?.header.streamId, 9);
  assert.ok(BerthError.is(bad?.error, Code.ResourceExhausted));
  assert.match(bad!.error!.message, /exceeds maximum message size/);
  const next = await ch.recv();
  assert.equal(next?.header.streamId, 11);
  assert.deepEqual(next?.data, new Uint8Array([42]));
});

Deno.test("send writes whole frames despite partial writes, refuses oversized", async () => {
  const s = new FakeStream(new Uint8Array());
  const ch = new Channel(s);
  await Promise.all([
    ch.send(1, MessageType.Request, new Uint8Array([1, 2, 3, 4])),
    ch.send(3, MessageType.Request, new Uint8Array([5])),
  ]);
  assert.deepEqual(
    concat(s.written),
    concat([
      frame(1, 1, new Uint8Array([1, 2, 3, 4])),
      frame(3, 1, new Uint8Array([5])),
    ]),
  );
  const before = s.written.length;
  await assert.rejects(
    ch.send(5, 1, new Uint8Array(MESSAGE_LENGTH_MAX + 1)),
    (e) => BerthError.is(e, Code.ResourceExhausted),
  );
  assert.equal(s.written.length, before);
  assert.equal(MESSAGE_HEADER_LENGTH, 10);
});
