/**
 * Namespaced metadata records in SQLite.
 *
 * @module
 */
export * from "./db.ts";
export * from "./namespaces.ts";
