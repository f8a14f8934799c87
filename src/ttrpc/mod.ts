/**
 * containerd's ttrpc protocol: framing, client and server.
 *
 * @module
 */

export * from "./channel.ts";
export * from "./client.ts";
export * from "./server.ts";
export * from "./status.ts";
export * from "./wire.ts";
