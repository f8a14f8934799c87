/**
 * The two envelope messages of the ttrpc protocol, encoded by hand.
 *
 * A request frame carries `ttrpc.Request{service=1, method=2, payload=3,
 * timeout_nano=4, metadata=5 repeated KeyValue{key=1, value=2}}`; a response
 * frame carries `ttrpc.Response{status=1 google.rpc.Status, payload=2}`.
 * Status details (`google.rpc.Status.details`) are skipped on decode.
 *
 * @module
 */

import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { invalidArgument } from "../types/errors.ts";

/** Call metadata: each key may carry several values, in order. */
export type TtrpcMetadata = Record<string, string[]>;

/** A decoded `ttrpc.Request`. */
export interface TtrpcRequest {
  /** Fully qualified service name, e.g. `containerd.task.v2.Task`. */
  service: string;
  /** Method name as written in the proto file, e.g. `State`. */
  method: string;
  /** The protobuf-encoded request message. */
  payload: Uint8Array;
  /** Deadline relative to now in nanoseconds; 0n means none. */
  timeoutNano: bigint;
  /** Call metadata. */
  metadata: TtrpcMetadata;
}

/** A `google.rpc.Status` without details. */
export interface TtrpcStatus {
  /** gRPC status code; 0 is OK. */
  code: number;
  /** Human readable message. */
  message: string;
}

/** A decoded `ttrpc.Response`. */
export interface TtrpcResponse {
  /** The call status; absent means OK. */
  status?: TtrpcStatus;
  /** The protobuf-encoded response message. */
  payload: Uint8Array;
}

/** Encodes a `ttrpc.Request`. */
export function encodeRequest(req: TtrpcRequest): Uint8Array {
  const w = new BinaryWriter();
  if (req.service) w.tag(1, WireType.LengthDelimited).string(req.service);
  if (req.method) w.tag(2, WireType.LengthDelimited).string(req.method);
  if (req.payload.length) w.tag(3, WireType.LengthDelimited).bytes(req.payload);
  if (req.timeoutNano) w.tag(4, WireType.Varint).int64(req.timeoutNano);
  for (const [key, values] of Object.entries(req.metadata)) {
    for (const value of values) {
      w.tag(5, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(key);
      w.tag(2, WireType.LengthDelimited).string(value);
      w.join();
    }
  }
  return w.finish();
}

/**
 * Runs a decoder; the protobuf reader's own errors (RangeError "premature
 * EOF", Error "invalid wire type" …) become InvalidArgument.
 */
function decoding<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw invalidArgument(
      `malformed ${what}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Decodes a `ttrpc.Request`; InvalidArgument on malformed input. */
export function decodeRequest(bytes: Uint8Array): TtrpcRequest {
  return decoding("ttrpc request", () => readRequest(bytes));
}

function readRequest(bytes: Uint8Array): TtrpcRequest {
  const r = new BinaryReader(bytes);
  const req: TtrpcRequest = {
    service: "",
    method: "",
    payload: new Uint8Array(),
    timeoutNano: 0n,
    metadata: {},
  };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) req.service = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) {
      req.method = r.string();
    } else if (no === 3 && wt === WireType.LengthDelimited) {
      req.payload = r.bytes();
    } else if (no === 4 && wt === WireType.Varint) {
      req.timeoutNano = BigInt(r.int64());
    } else if (no === 5 && wt === WireType.LengthDelimited) {
      const [key, value] = decodeKeyValue(r.bytes());
      addMetadata(req.metadata, key, value);
    } else r.skip(wt, no);
  }
  return req;
}

/**
 * Appends `value` under `key`. Keys are the peer's: "toString" or
 * "__proto__" must be plain keys, never the object's inherited members.
 */
function addMetadata(metadata: TtrpcMetadata, key: string, value: string) {
  if (Object.hasOwn(metadata, key)) {
    metadata[key].push(value);
  } else {
    Object.defineProperty(metadata, key, {
      value: [value],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

function decodeKeyValue(bytes: Uint8Array): [string, string] {
  const r = new BinaryReader(bytes);
  let key = "";
  let value = "";
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) key = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) value = r.string();
    else r.skip(wt, no);
  }
  return [key, value];
}

/** Encodes a `ttrpc.Response`. */
export function encodeResponse(res: TtrpcResponse): Uint8Array {
  const w = new BinaryWriter();
  if (res.status) {
    w.tag(1, WireType.LengthDelimited).fork();
    if (res.status.code) w.tag(1, WireType.Varint).int32(res.status.code);
    if (res.status.message) {
      w.tag(2, WireType.LengthDelimited).string(res.status.message);
    }
    w.join();
  }
  if (res.payload.length) w.tag(2, WireType.LengthDelimited).bytes(res.payload);
  return w.finish();
}

/** Decodes a `ttrpc.Response`; InvalidArgument on malformed input. */
export function decodeResponse(bytes: Uint8Array): TtrpcResponse {
  return decoding("ttrpc response", () => readResponse(bytes));
}

function readResponse(bytes: Uint8Array): TtrpcResponse {
  const r = new BinaryReader(bytes);
  const res: TtrpcResponse = { payload: new Uint8Array() };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) {
      res.status = decodeStatus(r.bytes());
    } else if (no === 2 && wt === WireType.LengthDelimited) {
      res.payload = r.bytes();
    } else r.skip(wt, no);
  }
  return res;
}

function decodeStatus(bytes: Uint8Array): TtrpcStatus {
  const r = new BinaryReader(bytes);
  const status: TtrpcStatus = { code: 0, message: "" };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.Varint) status.code = r.int32();
    else if (no === 2 && wt === WireType.LengthDelimited) {
      status.message = r.string();
    } else r.skip(wt, no);
  }
  return status;
}
