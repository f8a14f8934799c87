/**
 * The daemon: config, socket and wiring.
 *
 * @module
 */
export * from "./config.ts";
export * from "./daemon.ts";
