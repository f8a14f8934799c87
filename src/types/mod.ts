/**
 * Plain types shared by every component: errors with gRPC codes and
 * identifier rules. Imports nothing of berth.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./identifiers.ts";
export * from "./duration.ts";
export * from "./mount.ts";
export * from "./descriptor.ts";
