import assert from "node:assert/strict";
import { ErrorCode } from "./errors.ts";
import { FrameDecoder, FrameType } from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import { H2Stream, HIGH_WATER_MARK, type StreamHost } from "./stream.ts";
import { FrameWriter } from "./_writer.ts";

/** A host whose frames are decoded from what its writer flushes. */
class FakeHost implements StreamHost {
  writer: FrameWriter;
  sendWindow = 1 << 30;
  peerMaxFrameSize = 16384;
  consumedBytes = 0;
  resets: number[] = [];
  closedStreams: number[] = [];
  settledStreams: number[] = [];
  headers: { fields: HeaderField[]; end: boolean }[] = [];
  waitingStreams = new Set<H2Stream>();
  /** [type, flags, payload length] of each frame written. */
  frames: [number, number, number][] = [];

  constructor() {
    const decoder = new FrameDecoder(1 << 24);
    const sink = {
      write: (bytes: Uint8Array) => {
        decoder.push(bytes, (frame) => {
          this.frames.push([frame.type, frame.flags, frame.payload.length]);
          return true;
        });
        return Promise.resolve(bytes.length);
      },
    };
    this.writer = new FrameWriter(sink, () => {});
  }
  sendHeaders(_id: number, fields: HeaderField[], end: boolean) {
    this.headers.push({ fields, end });
  }
  waiting(stream: H2Stream) {
    this.waitingStreams.add(stream);
  }
  consumed(_stream: H2Stream, bytes: number) {
    this.consumedBytes += bytes;
  }
  sendReset(_stream: H2Stream, code: number) {
    this.resets.push(code);
  }
  closed(stream: H2Stream) {
    this.closedStreams.push(stream.id);
  }
  settled(stream: H2Stream) {
    this.settledStreams.push(stream.id);
  }
  /** The DATA frames flushed so far: [flags, length]. */
  data(): [number, number][] {
    this.writer.flush();
    return this.frames.filter(([type]) => type === FrameType.DATA)
      .map(([, flags, length]) => [flags, length]);
  }
}

function open(host: FakeHost, sendWindow = 65535): H2Stream {
  return new H2Stream(
    host,
    1,
    [[":path", "/x"], ["a", "1"], ["a", "2"]],
    1 << 20,
    sendWindow,
  );
}

Deno.test("header() joins repeated fields", () => {
  const stream = open(new FakeHost());
  assert.equal(stream.header("a"), "1, 2");
  assert.equal(stream.header(":path"), "/x");
  assert.equal(stream.header("b"), undefined);
});

Deno.test("data kept while paused is delivered, then the end, and only then is window given back", () => {
  const host = new FakeHost();
  const stream = open(host);
  const events: string[] = [];
  stream.ondata = (chunk) => events.push(`data ${chunk.length}`);
  stream.onend = () => events.push("end");
  stream.pause();
  stream.receive(new Uint8Array(10), false);
  stream.receive(new Uint8Array(20), true);
  assert.deepEqual(events, []);
  assert.equal(stream.buffered, 30);
  assert.equal(host.consumedBytes, 0);
  assert.equal(stream.remoteEnded, false);
  stream.resume();
  assert.deepEqual(events, ["data 10", "data 20", "end"]);
  assert.equal(host.consumedBytes, 30);
  assert.equal(stream.remoteEnded, true);
  assert.throws(() => stream.endRemote());
});

Deno.test("write() says wait past the high-water mark; drained() resolves as the window opens", async () => {
  const host = new FakeHost();
  const stream = open(host, 16384);
  stream.respond([[":status", "200"]]);
  assert.equal(stream.write(new Uint8Array(16384)), true);
  assert.equal(stream.write(new Uint8Array(HIGH_WATER_MARK)), false);
  let drained = false;
  const waiting = stream.drained().then(() => drained = true);
  await Promise.resolve();
  assert.equal(drained, false);
  assert.deepEqual(host.data(), [[0, 16384]]);
  stream.sendWindow += HIGH_WATER_MARK;
  stream.pump();
  await waiting;
  assert.equal(host.data().length, 1 + HIGH_WATER_MARK / 16384);
});

Deno.test("trailers wait for the data before them; without them an empty DATA frame ends the stream", () => {
  const host = new FakeHost();
  const stream = open(host, 100);
  stream.receive(new Uint8Array(0), true);
  stream.respond([[":status", "200"]]);
  stream.write(new Uint8Array(150));
  stream.end([["grpc-status", "0"]]);
  assert.equal(host.headers.length, 1);
  stream.sendWindow += 50;
  stream.pump();
  assert.deepEqual(host.headers.map((h) => h.end), [false, true]);
  assert.deepEqual(host.closedStreams, [1]);

  const plain = new FakeHost();
  const other = open(plain);
  other.receive(new Uint8Array(0), true);
  other.respond([[":status", "200"]]);
  other.write(new Uint8Array(10));
  other.end();
  assert.deepEqual(plain.data(), [[0, 10], [0x1, 0]]);
});

Deno.test("an answer complete before the request keeps the rest of it unread, holding the peer back", () => {
  const host = new FakeHost();
  const stream = open(host);
  let aborted = false;
  const seen: number[] = [];
  stream.onabort = () => aborted = true;
  stream.ondata = (chunk) => seen.push(chunk.length);
  stream.receive(new Uint8Array(10), false);
  stream.respond([[":status", "200"]], true);
  stream.receive(new Uint8Array(100), false);
  assert.deepEqual(seen, [10]);
  assert.equal(host.consumedBytes, 10, "no window for the unread bytes");
  assert.deepEqual(host.resets, []);
  assert.deepEqual(host.closedStreams, []);
  // The peer resets it once it has the answer.
  stream.abort(ErrorCode.CANCEL);
  assert.equal(host.consumedBytes, 110, "the unread bytes' window back");
  assert.equal(aborted, false);
  assert.deepEqual(host.closedStreams, [1]);

  // Or it ends its side: the stream closes.
  const other = open(host);
  other.respond([[":status", "200"]], true);
  other.receive(new Uint8Array(5), true);
  assert.deepEqual(host.closedStreams, [1, 1]);
});

Deno.test("a reset aborts the handler once and wakes a writer waiting to drain", async () => {
  const host = new FakeHost();
  const stream = open(host, 0);
  const codes: number[] = [];
  stream.onabort = (code) => codes.push(code);
  stream.respond([[":status", "200"]]);
  assert.equal(stream.write(new Uint8Array(HIGH_WATER_MARK)), false);
  const waiting = stream.drained();
  stream.abort(ErrorCode.CANCEL);
  stream.abort(ErrorCode.CANCEL);
  await waiting;
  assert.deepEqual(codes, [ErrorCode.CANCEL]);
  assert.equal(stream.closed, true);
  assert.equal(stream.write(new Uint8Array(1)), true);
});

Deno.test("a stream reset by its handler hears no more of its request", () => {
  const host = new FakeHost();
  const stream = open(host);
  const events: string[] = [];
  stream.ondata = () => events.push("data");
  stream.onend = () => events.push("end");
  stream.reset();
  stream.endRemote();
  assert.deepEqual(events, []);
  assert.deepEqual(host.resets, [ErrorCode.CANCEL]);
});

Deno.test("a held stream keeps its request, end included, until released to a handler", () => {
  const host = new FakeHost();
  const stream = open(host);
  stream.hold();
  stream.receive(new Uint8Array(10), true);
  assert.equal(stream.remoteEnded, false);
  const events: string[] = [];
  stream.ondata = (chunk) => events.push(`data ${chunk.length}`);
  stream.onend = () => events.push("end");
  stream.release();
  assert.deepEqual(events, ["data 10", "end"]);
});

Deno.test("work of a handler's settling after its stream closed is reported once; before, not at all", async () => {
  const host = new FakeHost();
  const stream = open(host);
  let finish!: () => void;
  stream.working(new Promise<void>((resolve) => finish = resolve));
  stream.working(Promise.reject(new Error("failed work settles too")));
  assert.equal(stream.busy, true);
  stream.abort(ErrorCode.CANCEL);
  await Promise.resolve();
  assert.deepEqual(host.settledStreams, []);
  finish();
  await Promise.resolve();
  assert.equal(stream.busy, false);
  assert.deepEqual(host.settledStreams, [1]);

  const done = open(host);
  const work = Promise.resolve();
  done.working(work);
  // The stream's own callback on `work` runs before this await resumes.
  await work;
  assert.equal(done.busy, false);
  done.abort(ErrorCode.CANCEL);
  assert.deepEqual(host.settledStreams, [1]);
});
