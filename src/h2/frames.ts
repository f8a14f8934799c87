/**
 * HTTP/2 frames (RFC 9113 §4, §6): the 9-byte frame header, the payloads
 * of the control frames, padding, and a decoder that cuts a connection's
 * bytes into frames.
 *
 * @module
 */
import { ConnectionError, ErrorCode } from "./errors.ts";

/** Frame types. Any other type is an extension frame, ignored. */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (which apply depends on the type). */
export const Flag = {
  /** DATA, HEADERS: the sender's last frame on the stream. */
  END_STREAM: 0x1,
  /** SETTINGS, PING: an acknowledgement. */
  ACK: 0x1,
  /** HEADERS, CONTINUATION: the header block is complete. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS: a pad length byte leads, padding trails. */
  PADDED: 0x8,
  /** HEADERS: a stream dependency and weight lead the block. */
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameters. */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The length of a frame header. */
export const FRAME_HEADER_LENGTH = 9;
/** The frame size every peer accepts until it says otherwise. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** The largest frame size a peer may announce. */
export const MAX_MAX_FRAME_SIZE = (1 << 24) - 1;
/** The flow-control window of a new stream or connection. */
export const DEFAULT_WINDOW = 65_535;
/** The largest flow-control window. */
export const MAX_WINDOW = 2 ** 31 - 1;
/** What a client sends before its first frame. */
export const CLIENT_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** One frame as it came: `payload` is a view of the connection's bytes. */
export interface Frame {
  /** The frame type. */
  type: number;
  /** The flags byte. */
  flags: number;
  /** The stream it belongs to (0: the connection). */
  streamId: number;
  /** The payload, padding and all. */
  payload: Uint8Array;
}

/** Writes a frame header into `target` at `offset`. */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  target[offset] = length >>> 16;
  target[offset + 1] = length >>> 8;
  target[offset + 2] = length;
  target[offset + 3] = type;
  target[offset + 4] = flags;
  writeUint32(target, offset + 5, streamId);
}

/** A whole frame: its header and `payload`. */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  writeFrameHeader(frame, 0, payload.length, type, flags, streamId);
  frame.set(payload, FRAME_HEADER_LENGTH);
  return frame;
}

/** A SETTINGS payload of `[parameter, value]` pairs. */
export function encodeSettings(
  settings: readonly (readonly [number, number])[],
): Uint8Array {
  const payload = new Uint8Array(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload[i * 6] = id >>> 8;
    payload[i * 6 + 1] = id;
    writeUint32(payload, i * 6 + 2, value);
  });
  return payload;
}

/** The `[parameter, value]` pairs of a SETTINGS payload. */
export function decodeSettings(payload: Uint8Array): [number, number][] {
  if (payload.length % 6 !== 0) {
    throw new ConnectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `SETTINGS of ${payload.length} bytes`,
    );
  }
  const settings: [number, number][] = [];
  for (let i = 0; i < payload.length; i += 6) {
    settings.push([
      (payload[i] << 8) | payload[i + 1],
      readUint32(payload, i + 2),
    ]);
  }
  return settings;
}

/** A GOAWAY payload. */
export function encodeGoaway(
  lastStreamId: number,
  code: number,
  debug = "",
): Uint8Array {
  const text = new TextEncoder().encode(debug);
  const payload = new Uint8Array(8 + text.length);
  writeUint32(payload, 0, lastStreamId);
  writeUint32(payload, 4, code);
  payload.set(text, 8);
  return payload;
}

/** What a GOAWAY frame says. */
export interface Goaway {
  /** The last stream the sender processed. */
  lastStreamId: number;
  /** The error code. */
  code: number;
  /** The debug data, as text. */
  debug: string;
}

/** Reads a GOAWAY payload. */
export function decodeGoaway(payload: Uint8Array): Goaway {
  if (payload.length < 8) {
    throw new ConnectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `GOAWAY of ${payload.length} bytes`,
    );
  }
  return {
    lastStreamId: readUint32(payload, 0) & MAX_WINDOW,
    code: readUint32(payload, 4),
    debug: new TextDecoder().decode(payload.subarray(8)),
  };
}

/** A 4-byte payload: RST_STREAM's error code or WINDOW_UPDATE's increment. */
export function encodeUint32(value: number): Uint8Array {
  const payload = new Uint8Array(4);
  writeUint32(payload, 0, value);
  return payload;
}

/**
 * The 4-byte value of RST_STREAM (error code) and WINDOW_UPDATE
 * (increment, its reserved bit cleared) payloads.
 */
export function decodeUint32(frame: Frame): number {
  if (frame.payload.length !== 4) {
    throw new ConnectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `frame type ${frame.type} of ${frame.payload.length} bytes`,
    );
  }
  const value = readUint32(frame.payload, 0);
  return frame.type === FrameType.WINDOW_UPDATE ? value & MAX_WINDOW : value;
}

/** The priority fields of HEADERS and PRIORITY frames. */
export interface Priority {
  /** The stream this one depends on. */
  dependency: number;
  /** Whether the dependency is exclusive. */
  exclusive: boolean;
  /** The weight, 1 to 256. */
  weight: number;
}

/** Reads priority fields at the start of `bytes`. */
export function decodePriority(bytes: Uint8Array): Priority {
  const word = readUint32(bytes, 0);
  return {
    dependency: word & MAX_WINDOW,
    exclusive: (word & 0x80000000) !== 0,
    weight: bytes[4] + 1,
  };
}

/**
 * The payload of a DATA or HEADERS frame without its padding (and, for
 * HEADERS, its priority fields, returned beside).
 */
export function unpad(frame: Frame): { body: Uint8Array; priority?: Priority } {
  let { payload } = frame;
  if (frame.flags & Flag.PADDED) {
    if (payload.length < 1 || payload[0] >= payload.length) {
      throw new ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `padding of ${payload[0]} bytes in a ${payload.length}-byte frame`,
      );
    }
    payload = payload.subarray(1, payload.length - payload[0]);
  }
  if (frame.type === FrameType.HEADERS && frame.flags & Flag.PRIORITY) {
    if (payload.length < 5) {
      throw new ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        "HEADERS too short for its priority fields",
      );
    }
    return { body: payload.subarray(5), priority: decodePriority(payload) };
  }
  return { body: payload };
}

/**
 * Cuts a connection's bytes into frames. A frame is handed over once all
 * its bytes are in, as a view of them (copied only when it spans chunks);
 * one announcing more than `maxFrameSize` is refused from its header.
 */
export class FrameDecoder {
  /** The largest payload accepted (our SETTINGS_MAX_FRAME_SIZE). */
  maxFrameSize: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  /** A decoder accepting payloads up to `maxFrameSize` bytes. */
  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /**
   * Adds `chunk` and hands each complete frame to `onFrame`, in order,
   * until it returns false (the connection stopped reading). Throws a
   * {@linkcode ConnectionError} for a frame over the size limit.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => boolean): void {
    let bytes = chunk;
    if (this.#buffered > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered < this.#needed()) return;
      bytes = concat(this.#chunks, this.#buffered);
      this.#chunks = [];
      this.#buffered = 0;
    }
    let pos = 0;
    while (bytes.length - pos >= FRAME_HEADER_LENGTH) {
      const length = (bytes[pos] << 16) | (bytes[pos + 1] << 8) |
        bytes[pos + 2];
      if (length > this.maxFrameSize) {
        throw new ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          `a frame of ${length} bytes (the limit is ${this.maxFrameSize})`,
        );
      }
      const end = pos + FRAME_HEADER_LENGTH + length;
      if (end > bytes.length) break;
      const frame: Frame = {
        type: bytes[pos + 3],
        flags: bytes[pos + 4],
        streamId: readUint32(bytes, pos + 5) & MAX_WINDOW,
        payload: bytes.subarray(pos + FRAME_HEADER_LENGTH, end),
      };
      pos = end;
      if (!onFrame(frame)) return;
    }
    if (pos < bytes.length) {
      const rest = bytes.subarray(pos);
      this.#chunks.push(rest);
      this.#buffered = rest.length;
    }
  }

  /** Bytes needed before the buffered frame is whole (a header at least). */
  #needed(): number {
    if (this.#buffered < FRAME_HEADER_LENGTH) return FRAME_HEADER_LENGTH;
    const head = this.#chunks[0].length >= 3
      ? this.#chunks[0]
      : concat(this.#chunks, this.#buffered);
    return FRAME_HEADER_LENGTH + ((head[0] << 16) | (head[1] << 8) | head[2]);
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function writeUint32(target: Uint8Array, offset: number, value: number) {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) |
    (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}
