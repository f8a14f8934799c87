/**
 * System calls through Deno FFI. Imports nothing of berth.
 *
 * @module
 */
export * from "./libc.ts";
export * from "./lockfile.ts";
export * from "./mount.ts";
export * from "./fsx.ts";
export * from "./statx.ts";
export * from "./netns.ts";
export * from "./netlink_socket.ts";
export * from "./clock.ts";
export * from "./malloc.ts";
