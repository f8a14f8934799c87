/**
 * The runtime: tasks run by shims (`berth shim`, or containerd's
 * `containerd-shim-runc-v2`) over containerd's runtime v2 task API.
 *
 * @module
 */
export * from "./bundle.ts";
export * from "./shim_process.ts";
export * from "./shims.ts";
export * from "./tasks.ts";
