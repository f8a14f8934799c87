/**
 * The content component: a content-addressed blob store with resumable,
 * verified ingests, on a local directory in containerd's layout. Not
 * namespaced; the metadata layer adds namespaces, labels and leases.
 *
 * @module
 */
export * from "./digest.ts";
export * from "./store.ts";
export * from "./types.ts";
