/**
 * Image transfers run by the daemon: registry pulls that unpack while they
 * download, pushes, and archive import and export.
 *
 * @module
 */
export * from "./archive.ts";
export * from "./progress.ts";
export * from "./pull.ts";
export * from "./push.ts";
export * from "./transfers.ts";
