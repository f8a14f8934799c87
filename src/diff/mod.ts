/**
 * The differ: layers applied onto mounts, and mounts compared into layers.
 *
 * @module
 */
export * from "./walking.ts";
