/**
 * CNI 1.0, the runtime side: network configurations, plugin execution and
 * chains with a result cache ({@link ./runtime.ts}), and attachments of
 * named network namespaces to networks ({@link ./attachments.ts}).
 *
 * @module
 */
export * from "./config.ts";
export * from "./default_network.ts";
export * from "./exec.ts";
export * from "./runtime.ts";
export * from "./attachments.ts";
