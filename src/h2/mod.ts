/**
 * berth's own HTTP/2 (RFC 9113), server side only: frames, header
 * compression (HPACK), the connection and its streams, flow control both
 * ways. gRPC runs on it (`src/daemon/grpc.ts`).
 *
 * @module
 */

export * from "./connection.ts";
export * from "./errors.ts";
export * from "./frames.ts";
export * from "./hpack.ts";
export * from "./server.ts";
export { H2Stream, HIGH_WATER_MARK } from "./stream.ts";
