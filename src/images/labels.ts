/**
 * The labels and annotations containerd gives images' content and
 * snapshots, which berth gives them too so that both read each other's
 * state: garbage-collection references, uncompressed digests, snapshot
 * references, and image names in archives.
 *
 * @module
 */

/** Prefix of the labels by which a blob keeps other blobs. */
export const LABEL_GC_REF_CONTENT = "containerd.io/gc.ref.content";
/** Prefix of the config label that keeps the unpacked snapshots. */
export const LABEL_GC_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot.";
/** The label naming a compressed blob's uncompressed digest (diffID). */
export const LABEL_UNCOMPRESSED = "containerd.io/uncompressed";
/** The label naming the snapshot a layer's extraction will become. */
export const LABEL_SNAPSHOT_REF = "containerd.io/snapshot.ref";
/** Prefix of layer annotations that snapshots inherit as labels. */
export const INHERITED_LABEL_PREFIX = "containerd.io/snapshot/";
/** The annotation containerd names an image by in an archive's index. */
export const ANNOTATION_IMAGE_NAME = "io.containerd.image.name";
/** The OCI annotation for a manifest's (short) reference name. */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
