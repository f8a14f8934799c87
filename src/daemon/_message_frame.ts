/**
 * A message as a gRPC frame: the 5-byte prefix (uncompressed, length),
 * then its protobuf encoding.
 *
 * protobuf-es's `toBinary` grows its buffer from 128 bytes by doubling and
 * copies the result out, and the prefix needs one more copy: a 32 KiB
 * `Content.Read` answer (ctr reads a blob as thousands of them) cost a
 * zeroed 64 KiB buffer and three 32 KiB copies, and kept V8's collector
 * busy. A message whose last field is a large `bytes` field with implicit
 * presence (proto3's, so that left empty it encodes to nothing) is encoded
 * without it, and the field is appended by hand: one buffer of the exact
 * size, the bytes copied once. The encoding is the same byte for byte, as
 * protobuf-es writes fields in number order.
 *
 * And frames are built in one buffer used again and again
 * ({@linkcode FrameBuffer}): the HTTP/2 stream copies a frame out at once
 * when its windows are open, which they are for ctr's 32 KiB reads.
 *
 * @module
 */
import {
  type DescField,
  type DescMessage,
  type Message,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { Buffer } from "node:buffer";
import { encodeAnswer } from "../services/mod.ts";

/** The size of a gRPC frame's prefix: a flags byte and a 32-bit length. */
export const PREFIX = 5;

/** `bytes` fields shorter than this are encoded by protobuf-es as usual. */
const BULK_MIN = 4096;

/** Field presence as protobuf's editions name it: IMPLICIT. */
const IMPLICIT = 2;

const EMPTY = new Uint8Array(0);

/** Frames larger than this get a buffer of their own. */
const MAX_REUSED = 2 << 20;

/**
 * The buffer frames are built in: reused for the next frame unless the
 * last one is still held ({@linkcode keep}) by a stream waiting for its
 * windows.
 */
export class FrameBuffer {
  #buffer: Buffer | undefined;

  /** `size` bytes for a frame. */
  take(size: number): Buffer {
    if (size > MAX_REUSED) return Buffer.allocUnsafeSlow(size);
    if (!this.#buffer || this.#buffer.length < size) {
      this.#buffer = Buffer.allocUnsafeSlow(Math.max(size, 4096));
    }
    return this.#buffer.subarray(0, size);
  }

  /** `frame` stays referenced: the next frame is built elsewhere. */
  keep(frame: Uint8Array): void {
    if (frame.buffer === this.#buffer?.buffer) this.#buffer = undefined;
  }
}

/** Each schema's last field when it is a bulk candidate, else null. */
const bulkFields = new WeakMap<DescMessage, DescField | null>();

function bulkField(schema: DescMessage): DescField | null {
  let field = bulkFields.get(schema);
  if (field === undefined) {
    const last = schema.fields.reduce<DescField | undefined>(
      (a, b) => !a || b.number > a.number ? b : a,
      undefined,
    );
    field = last?.fieldKind === "scalar" &&
        last.scalar === ScalarType.BYTES && last.presence === IMPLICIT &&
        !last.oneof
      ? last
      : null;
    bulkFields.set(schema, field);
  }
  return field;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(target: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    target[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  target[at++] = value;
  return at;
}

/** The gRPC frame of `message`, of `schema`, built in `frames`. */
export function frameMessage(
  schema: DescMessage,
  message: Message,
  frames: FrameBuffer,
): Buffer {
  const field = bulkField(schema);
  const bulk = field
    ? (message as unknown as Record<string, unknown>)[field.localName]
    : undefined;
  if (
    !field || !(bulk instanceof Uint8Array) || bulk.length < BULK_MIN ||
    (message.$unknown?.length ?? 0) > 0
  ) {
    const bytes = encodeAnswer(schema, message);
    const frame = frames.take(PREFIX + bytes.length);
    writePrefix(frame, bytes.length);
    frame.set(bytes, PREFIX);
    return frame;
  }
  const rest = toBinary(schema, { ...message, [field.localName]: EMPTY });
  const tag = (field.number << 3) | 2;
  const length = rest.length + varintSize(tag) + varintSize(bulk.length) +
    bulk.length;
  const frame = frames.take(PREFIX + length);
  writePrefix(frame, length);
  frame.set(rest, PREFIX);
  let at = writeVarint(frame, PREFIX + rest.length, tag);
  at = writeVarint(frame, at, bulk.length);
  frame.set(bulk, at);
  return frame;
}

function writePrefix(frame: Buffer, length: number) {
  frame[0] = 0;
  frame.writeUInt32BE(length, 1);
}
