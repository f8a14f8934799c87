import assert from "node:assert/strict";
import {
  create,
  type DescMessage,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import {
  InfoSchema,
  ReadContentResponseSchema,
  WriteContentRequestSchema,
} from "../gen/containerd/services/content/v1/content_pb.ts";
import { FrameBuffer, frameMessage, PREFIX } from "./_message_frame.ts";

/** The frame as plain protobuf-es encoding and a prefix make it. */
function expected(schema: DescMessage, message: Message): Uint8Array {
  const bytes = toBinary(schema, message);
  const frame = new Uint8Array(PREFIX + bytes.length);
  new DataView(frame.buffer).setUint32(1, bytes.length);
  frame.set(bytes, PREFIX);
  return frame;
}

function data(size: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
}

Deno.test("a message's gRPC frame is protobuf-es's encoding behind the prefix, byte for byte, large bytes fields too", () => {
  for (const size of [0, 100, 4095, 4096, 32_768, 200_000, 1 << 20]) {
    for (const offset of [0n, 1n, 1n << 40n]) {
      const message = create(ReadContentResponseSchema, {
        offset,
        data: data(size),
      });
      assert.deepEqual(
        new Uint8Array(
          frameMessage(ReadContentResponseSchema, message, new FrameBuffer()),
        ),
        expected(ReadContentResponseSchema, message),
        `size ${size}, offset ${offset}`,
      );
    }
  }
  // A last field that is not bytes; a bytes field that is not last.
  const info = create(InfoSchema, { digest: "sha256:x", size: 5n });
  assert.deepEqual(
    new Uint8Array(frameMessage(InfoSchema, info, new FrameBuffer())),
    expected(InfoSchema, info),
  );
  const write = create(WriteContentRequestSchema, {
    ref: "r",
    data: data(10_000),
    labels: { a: "b" },
  });
  assert.deepEqual(
    new Uint8Array(
      frameMessage(WriteContentRequestSchema, write, new FrameBuffer()),
    ),
    expected(WriteContentRequestSchema, write),
  );
});

Deno.test("unknown fields a message carries are kept in its frame", () => {
  const message = create(ReadContentResponseSchema, { data: data(10_000) });
  message.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
  assert.deepEqual(
    new Uint8Array(
      frameMessage(ReadContentResponseSchema, message, new FrameBuffer()),
    ),
    expected(ReadContentResponseSchema, message),
  );
});

Deno.test("frames are built in one buffer until one is kept", () => {
  const frames = new FrameBuffer();
  const message = create(ReadContentResponseSchema, { data: data(10_000) });
  const first = frameMessage(ReadContentResponseSchema, message, frames);
  const second = frameMessage(ReadContentResponseSchema, message, frames);
  assert.equal(first.buffer, second.buffer);
  frames.keep(second);
  const third = frameMessage(ReadContentResponseSchema, message, frames);
  assert.notEqual(third.buffer, second.buffer);
  assert.deepEqual(second, third);
});
