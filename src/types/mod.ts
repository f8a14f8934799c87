/**
 * Plain types shared by every component: errors with gRPC codes,
 * identifier rules, descriptors, mounts, image references, media types and
 * platforms.
 * Imports nothing of berth.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./identifiers.ts";
export * from "./duration.ts";
export * from "./mount.ts";
export * from "./descriptor.ts";
export * from "./reference.ts";
export * from "./media_types.ts";
export * from "./platform.ts";
export * from "./utf8_order.ts";
export * from "./time.ts";
export * from "./crash_point.ts";
export * from "./idle.ts";
