/**
 * OCI runtime spec generation: containerd's default Linux spec and the
 * options ctr and berth's client apply to it.
 *
 * @module
 */
export * from "./spec.ts";
export * from "./opts.ts";
export * from "./user.ts";
export * from "./caps.ts";
export * from "./mount_flag.ts";
