/**
 * Named network namespaces (see {@link ./manager.ts} for how they are made
 * without the daemon's threads ever entering them).
 *
 * @module
 */
export * from "./manager.ts";
export * from "./etc_files.ts";
export * from "./users.ts";
