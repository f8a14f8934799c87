import assert from "node:assert/strict";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ForwardRequestSchema } from "../gen/containerd/services/ttrpc/events/v1/events_pb.ts";
import { decodeForwardRequest } from "./_forward_request.ts";

/** What protobuf-es reads from `bytes`, in the hand decoder's shape. */
function reference(bytes: Uint8Array) {
  const envelope = fromBinary(ForwardRequestSchema, bytes).envelope;
  if (!envelope) return undefined;
  return {
    namespace: envelope.namespace,
    topic: envelope.topic,
    ...envelope.timestamp && {
      timestamp: {
        seconds: envelope.timestamp.seconds,
        nanos: envelope.timestamp.nanos,
      },
    },
    ...envelope.event && {
      event: { typeUrl: envelope.event.typeUrl, value: envelope.event.value },
    },
  };
}

const envelope = fc.record({
  timestamp: fc.option(
    fc.record({
      seconds: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      nanos: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    }),
    { nil: undefined },
  ),
  namespace: fc.string({ unit: "grapheme" }),
  topic: fc.string(),
  event: fc.option(
    fc.record({ typeUrl: fc.string(), value: fc.uint8Array() }),
    { nil: undefined },
  ),
});

Deno.test("a Forward request reads as protobuf-es reads it, with or without each part", () => {
  fc.assert(
    fc.property(fc.option(envelope, { nil: undefined }), (sent) => {
      const bytes = toBinary(
        ForwardRequestSchema,
        create(ForwardRequestSchema, { envelope: sent }),
      );
      const read = decodeForwardRequest(bytes);
      assert.deepEqual(read, reference(bytes));
      if (sent?.event) assert.deepEqual(read?.event?.value, sent.event.value);
    }),
  );
});

Deno.test("a Forward request: unknown fields are skipped, a repeated message is merged, the last value wins", () => {
  const any = (typeUrl: string, value?: number[]) => {
    const w = new BinaryWriter().tag(1, WireType.LengthDelimited).string(
      typeUrl,
    );
    if (value) w.tag(2, WireType.LengthDelimited).bytes(Uint8Array.from(value));
    return w.finish();
  };
  const envelope = new BinaryWriter()
    .tag(9, WireType.Varint).uint32(7)
    .tag(2, WireType.LengthDelimited).string("first")
    .tag(4, WireType.LengthDelimited).bytes(any("containerd.events.TaskExit", [
      1,
      2,
    ]))
    .tag(2, WireType.LengthDelimited).string("ns")
    .tag(3, WireType.LengthDelimited).string("/tasks/exit")
    .tag(1, WireType.LengthDelimited).bytes(
      new BinaryWriter().tag(1, WireType.Varint).int64(5n).finish(),
    )
    .tag(1, WireType.LengthDelimited).bytes(
      new BinaryWriter().tag(2, WireType.Varint).int32(6).finish(),
    )
    .tag(4, WireType.LengthDelimited).bytes(any("containerd.events.TaskOOM"))
    .tag(12, WireType.LengthDelimited).string("unknown")
    .finish();
  const bytes = new BinaryWriter()
    .tag(3, WireType.Bit64).fixed64(1n)
    .tag(1, WireType.LengthDelimited).bytes(envelope)
    .finish();
  const read = decodeForwardRequest(bytes);
  assert.deepEqual(read, reference(bytes));
  assert.deepEqual(read, {
    namespace: "ns",
    topic: "/tasks/exit",
    timestamp: { seconds: 5n, nanos: 6 },
    event: {
      typeUrl: "containerd.events.TaskOOM",
      value: Uint8Array.from([1, 2]),
    },
  });
});

Deno.test("a malformed Forward request throws: truncated, or a known field of the wrong wire type", () => {
  const good = toBinary(
    ForwardRequestSchema,
    create(ForwardRequestSchema, {
      envelope: { namespace: "ns", topic: "/tasks/exit" },
    }),
  );
  assert.throws(() => decodeForwardRequest(good.subarray(0, good.length - 1)));
  const wrongType = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(
    new BinaryWriter().tag(2, WireType.Varint).uint32(1).finish(),
  ).finish();
  assert.throws(() => decodeForwardRequest(wrongType), /wire type/);
  assert.throws(() => fromBinary(ForwardRequestSchema, wrongType));
});
