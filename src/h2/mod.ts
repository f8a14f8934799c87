/**
 * berth's own HTTP/2: header compression (HPACK) for now.
 *
 * @module
 */

export * from "./hpack.ts";
