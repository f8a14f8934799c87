/**
 * HTTP/2's error codes (RFC 9113 §7) and the two kinds of error it knows:
 * one that ends the whole connection (GOAWAY) and one that ends a stream
 * (RST_STREAM).
 *
 * @module
 */

/** The error codes of RST_STREAM and GOAWAY frames. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** An error ending the connection: answered with GOAWAY carrying `code`. */
export class ConnectionError extends Error {
  /** The GOAWAY error code. */
  readonly code: number;

  /** An error with HTTP/2 error `code` and a message for GOAWAY's debug data. */
  constructor(code: number, message: string) {
    super(message);
    this.name = "ConnectionError";
    this.code = code;
  }
}

/** An error ending one stream: answered with RST_STREAM carrying `code`. */
export class StreamError extends Error {
  /** The stream it ends. */
  readonly streamId: number;
  /** The RST_STREAM error code. */
  readonly code: number;

  /** An error ending stream `streamId` with HTTP/2 error `code`. */
  constructor(streamId: number, code: number, message: string) {
    super(message);
    this.name = "StreamError";
    this.streamId = streamId;
    this.code = code;
  }
}
