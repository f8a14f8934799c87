/**
 * A shim's `Forward` request (`containerd.services.events.ttrpc.v1`:
 * `ForwardRequest{envelope=1 Envelope{timestamp=1, namespace=2, topic=3,
 * event=4 Any{type_url=1, value=2}}}`), read by hand.
 *
 * The daemon only passes a shim's event on: its payload stays the bytes
 * that came, and no message objects are made. protobuf-es's reflective
 * decoding of the request was most of the daemon's cost per event. As
 * protobuf's decoding does, a field that comes twice keeps its last
 * value, and a message that comes twice is merged; unknown fields are
 * skipped.
 *
 * @module
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { EventPayload } from "../events/mod.ts";

/** The envelope of a `Forward` request, its parts absent when not sent. */
export interface ForwardedEnvelope {
  /** When the shim published it. */
  timestamp?: { seconds: bigint; nanos: number };
  /** The namespace it happened in. */
  namespace: string;
  /** Its topic. */
  topic: string;
  /** Its payload, the value's bytes as they came. */
  event?: EventPayload;
}

/**
 * The envelope of an encoded `ForwardRequest`, undefined when it has none.
 * Throws on malformed bytes (a truncated field, a known field of the wrong
 * wire type).
 */
export function decodeForwardRequest(
  bytes: Uint8Array,
): ForwardedEnvelope | undefined {
  const reader = new BinaryReader(bytes);
  let envelope: ForwardedEnvelope | undefined;
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1) {
      envelope ??= { namespace: "", topic: "" };
      readEnvelope(nested(reader, wireType), envelope);
    } else {
      reader.skip(wireType, no);
    }
  }
  return envelope;
}

function readEnvelope(reader: BinaryReader, envelope: ForwardedEnvelope) {
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    switch (no) {
      case 1:
        envelope.timestamp ??= { seconds: 0n, nanos: 0 };
        readTimestamp(nested(reader, wireType), envelope.timestamp);
        break;
      case 2:
        expect(wireType, WireType.LengthDelimited);
        envelope.namespace = reader.string();
        break;
      case 3:
        expect(wireType, WireType.LengthDelimited);
        envelope.topic = reader.string();
        break;
      case 4:
        envelope.event ??= { typeUrl: "", value: new Uint8Array() };
        readAny(nested(reader, wireType), envelope.event);
        break;
      default:
        reader.skip(wireType, no);
    }
  }
}

function readTimestamp(
  reader: BinaryReader,
  timestamp: { seconds: bigint; nanos: number },
) {
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1) {
      expect(wireType, WireType.Varint);
      timestamp.seconds = BigInt(reader.int64());
    } else if (no === 2) {
      expect(wireType, WireType.Varint);
      timestamp.nanos = reader.int32();
    } else {
      reader.skip(wireType, no);
    }
  }
}

function readAny(reader: BinaryReader, any: EventPayload) {
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (no === 1) {
      expect(wireType, WireType.LengthDelimited);
      any.typeUrl = reader.string();
    } else if (no === 2) {
      expect(wireType, WireType.LengthDelimited);
      any.value = reader.bytes();
    } else {
      reader.skip(wireType, no);
    }
  }
}

/** The bytes of a length-delimited field, to read a message from. */
function nested(reader: BinaryReader, wireType: WireType): BinaryReader {
  expect(wireType, WireType.LengthDelimited);
  return new BinaryReader(reader.bytes());
}

function expect(wireType: WireType, want: WireType) {
  if (wireType !== want) {
    throw new Error(`wire type ${wireType} where ${want} belongs`);
  }
}
