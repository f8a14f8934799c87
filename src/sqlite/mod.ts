/**
 * SQLite files berth keeps its records in: WAL mode, versioned schema
 * migrations and nesting transactions, over `node:sqlite`.
 *
 * @module
 */
export * from "./database.ts";
