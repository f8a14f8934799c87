/**
 * The media types of OCI and Docker images: indexes (manifest lists),
 * manifests, configs and layers. What each kind of blob is, is for the
 * components to decide; these are the names only.
 *
 * @module
 */

/** OCI image-spec media types. */
export const OCI = {
  /** An image index (a list of manifests, usually one per platform). */
  INDEX: "application/vnd.oci.image.index.v1+json",
  /** An image manifest. */
  MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  /** An image config. */
  CONFIG: "application/vnd.oci.image.config.v1+json",
  /** An uncompressed layer. */
  LAYER: "application/vnd.oci.image.layer.v1.tar",
  /** A gzip layer. */
  LAYER_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** A zstd layer. */
  LAYER_ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
  /** A non-distributable layer, uncompressed. */
  LAYER_NONDISTRIBUTABLE:
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
  /** A non-distributable layer, gzip. */
  LAYER_NONDISTRIBUTABLE_GZIP:
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  /** A non-distributable layer, zstd. */
  LAYER_NONDISTRIBUTABLE_ZSTD:
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
} as const;

/** Docker image media types (schema 2, and schema 1 for refusal). */
export const DOCKER = {
  /** A manifest list: Docker's index. */
  MANIFEST_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  /** A schema 2 manifest. */
  MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  /** A schema 1 manifest (unsigned). */
  MANIFEST_SCHEMA1: "application/vnd.docker.distribution.manifest.v1+json",
  /** A schema 1 manifest (signed, JWS). */
  MANIFEST_SCHEMA1_SIGNED:
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
  /** An image config. */
  CONFIG: "application/vnd.docker.container.image.v1+json",
  /** A layer, nominally uncompressed (often gzip in practice). */
  LAYER: "application/vnd.docker.image.rootfs.diff.tar",
  /** A gzip layer. */
  LAYER_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  /** A foreign (non-distributable) layer. */
  LAYER_FOREIGN: "application/vnd.docker.image.rootfs.foreign.diff.tar",
  /** A foreign (non-distributable) gzip layer. */
  LAYER_FOREIGN_GZIP:
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;
