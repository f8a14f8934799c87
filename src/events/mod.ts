/**
 * Events: an in-process exchange with containerd's topics and filters.
 *
 * @module
 */
export * from "./exchange.ts";
