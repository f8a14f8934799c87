/**
 * Image logic over content and snapshots: what each media type is,
 * manifests and indexes, chain IDs, unpacking into a snapshotter, walking
 * and labelling an image's content graph, and image archives with their ref
 * names. Image references, platforms and the media type names themselves are
 * shared types (`src/types/`).
 *
 * Everything here depends on narrow interfaces ({@linkcode ImageContent},
 * {@linkcode ImageSnapshots}, {@linkcode LayerApplier}) that the daemon
 * binds to one namespace, never on the stores themselves.
 *
 * @module
 */
export * from "./mediatypes.ts";
export * from "./labels.ts";
export * from "./content.ts";
export * from "./manifest.ts";
export * from "./identity.ts";
export * from "./unpack.ts";
export * from "./walk.ts";
export * from "./archive.ts";
export * from "./archive_names.ts";
