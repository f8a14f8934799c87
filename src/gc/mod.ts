/**
 * Garbage collection: mark and sweep over a resource graph, and when to run.
 *
 * @module
 */
export * from "./collector.ts";
export * from "./scheduler.ts";
