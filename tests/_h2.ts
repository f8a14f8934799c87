/**
 * gRPC calls made by hand over `node:http2`, for the transport tests that
 * need what a client library hides: the raw status, a request frame of any
 * announced size, a connection closed with GOAWAY, a call cancelled midway.
 * (Everything else, the RPC benchmark included, calls through the client
 * library.)
 *
 * @module
 */
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import * as net from "node:net";

/** One HTTP/2 connection to a daemon's UNIX socket, once its settings came. */
export function connectH2(address: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect("http://localhost", {
      createConnection: () => net.connect(address),
    });
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      session.on("error", () => {});
      resolve(session);
    });
  });
}

/** `message` with gRPC's prefix: a flags byte and its 32-bit length. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** What a call ended with. */
export interface CallResult {
  /** `grpc-status`, as a number (undefined when none came). */
  status?: number;
  /** `grpc-message`, decoded. */
  message: string;
  /** The response body's bytes. */
  body: Buffer;
}

/** Opens a gRPC call to `path` (`/package.Service/Method`). */
export function openCall(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
): http2.ClientHttp2Stream {
  return session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    "te": "trailers",
    ...headers,
  });
}

/** Resolves with the status of `stream` once it has closed. */
export function callResult(
  stream: http2.ClientHttp2Stream,
): Promise<CallResult> {
  return new Promise((resolve) => {
    const result: CallResult = { message: "", body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    const onHeaders = (headers: http2.IncomingHttpHeaders) => {
      const status = headers["grpc-status"];
      if (status !== undefined) result.status = Number(status);
      const message = headers["grpc-message"];
      if (message !== undefined) {
        result.message = decodeURIComponent(String(message));
      }
    };
    stream.on("response", onHeaders);
    stream.on("trailers", onHeaders);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.once("close", () => {
      result.body = Buffer.concat(chunks);
      resolve(result);
    });
  });
}

/** One unary call with an already framed request. */
export function unaryCall(
  session: http2.ClientHttp2Session,
  path: string,
  frame: Uint8Array,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<CallResult> {
  const stream = openCall(session, path, headers);
  const result = callResult(stream);
  stream.end(frame);
  return result;
}
