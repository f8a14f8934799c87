/**
 * Namespaced metadata records in SQLite.
 *
 * @module
 */
export * from "./db.ts";
export * from "./namespaces.ts";
export * from "./content.ts";
export * from "./gc.ts";
export * from "./leases.ts";
export * from "./snapshots.ts";
export * from "./images.ts";
export * from "./containers.ts";
export * from "./netns.ts";
export * from "./attachments.ts";
