import assert from "node:assert/strict";
import { ConnectionError, ErrorCode } from "./errors.ts";
import {
  decodeGoaway,
  decodeSettings,
  decodeUint32,
  encodeFrame,
  encodeGoaway,
  encodeSettings,
  encodeUint32,
  Flag,
  type Frame,
  FrameDecoder,
  FrameType,
  MAX_WINDOW,
  Setting,
  unpad,
} from "./frames.ts";

/** The frames `decoder` makes of `chunks`, fed one after another. */
function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (frame) => {
      frames.push({ ...frame, payload: frame.payload.slice() });
      return true;
    });
  }
  return frames;
}

Deno.test("frames split anywhere between chunks decode the same", () => {
  const bytes = new Uint8Array([
    ...encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8).fill(7)),
    ...encodeFrame(FrameType.DATA, Flag.END_STREAM, 3, new Uint8Array(300)),
    ...encodeFrame(FrameType.WINDOW_UPDATE, 0, 0x7fffffff, encodeUint32(9)),
    ...encodeFrame(FrameType.SETTINGS, Flag.ACK, 0),
  ]);
  const whole = decodeAll(new FrameDecoder(), [bytes]);
  assert.deepEqual(whole.map((f) => [f.type, f.flags, f.streamId]), [
    [FrameType.PING, 0, 0],
    [FrameType.DATA, Flag.END_STREAM, 3],
    [FrameType.WINDOW_UPDATE, 0, 0x7fffffff],
    [FrameType.SETTINGS, Flag.ACK, 0],
  ]);
  for (let cut = 1; cut < bytes.length; cut += 7) {
    const pieces = [bytes.subarray(0, cut), bytes.subarray(cut)];
    assert.deepEqual(
      decodeAll(new FrameDecoder(), pieces),
      whole,
      `cut ${cut}`,
    );
  }
  // A byte at a time.
  const single = Array.from(bytes, (b) => new Uint8Array([b]));
  assert.deepEqual(decodeAll(new FrameDecoder(), single), whole);
});

Deno.test("the reserved bit of a stream id is ignored", () => {
  const frame = encodeFrame(FrameType.DATA, 0, 1);
  frame[5] |= 0x80;
  assert.equal(decodeAll(new FrameDecoder(), [frame])[0].streamId, 1);
});

Deno.test("a frame over the size limit is refused from its header alone", () => {
  const header = encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(16385))
    .subarray(0, 9);
  assert.throws(
    () => decodeAll(new FrameDecoder(), [header]),
    (err) =>
      err instanceof ConnectionError &&
      err.code === ErrorCode.FRAME_SIZE_ERROR,
  );
});

Deno.test("SETTINGS, GOAWAY, RST_STREAM and WINDOW_UPDATE payloads round-trip", () => {
  const settings: [number, number][] = [
    [Setting.INITIAL_WINDOW_SIZE, MAX_WINDOW],
    [Setting.MAX_FRAME_SIZE, 16384],
  ];
  assert.deepEqual(decodeSettings(encodeSettings(settings)), settings);
  assert.deepEqual(decodeGoaway(encodeGoaway(7, ErrorCode.CANCEL, "bye")), {
    lastStreamId: 7,
    code: ErrorCode.CANCEL,
    debug: "bye",
  });
  const update: Frame = {
    type: FrameType.WINDOW_UPDATE,
    flags: 0,
    streamId: 0,
    payload: encodeUint32(0x80000005),
  };
  assert.equal(decodeUint32(update), 5);
  assert.equal(
    decodeUint32({ ...update, type: FrameType.RST_STREAM }),
    0x80000005,
  );
  assert.throws(
    () => decodeUint32({ ...update, payload: new Uint8Array(3) }),
    (err) =>
      err instanceof ConnectionError &&
      err.code === ErrorCode.FRAME_SIZE_ERROR,
  );
  assert.throws(() => decodeSettings(new Uint8Array(7)), ConnectionError);
});

Deno.test("padding and priority fields are taken off DATA and HEADERS", () => {
  const data: Frame = {
    type: FrameType.DATA,
    flags: Flag.PADDED,
    streamId: 1,
    payload: new Uint8Array([2, 10, 20, 0, 0]),
  };
  assert.deepEqual(unpad(data).body, new Uint8Array([10, 20]));
  const headers: Frame = {
    type: FrameType.HEADERS,
    flags: Flag.PADDED | Flag.PRIORITY,
    streamId: 3,
    payload: new Uint8Array([1, 0x80, 0, 0, 1, 15, 0x82, 0]),
  };
  const { body, priority } = unpad(headers);
  assert.deepEqual(body, new Uint8Array([0x82]));
  assert.deepEqual(priority, { dependency: 1, exclusive: true, weight: 16 });
  assert.throws(
    () => unpad({ ...data, payload: new Uint8Array([5, 1, 2]) }),
    (err) =>
      err instanceof ConnectionError && err.code === ErrorCode.PROTOCOL_ERROR,
  );
});
