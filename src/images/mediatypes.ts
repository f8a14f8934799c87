/**
 * The media types of OCI and Docker images, and what each kind of blob is:
 * an index (manifest list), a manifest, a config or a layer. Docker schema 1
 * manifests are recognised only to be refused.
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";

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

/** The file at the root of an OCI image layout. */
export const OCI_LAYOUT_FILE = "oci-layout";
/** The OCI image layout version berth reads and writes. */
export const OCI_LAYOUT_VERSION = "1.0.0";

/** Config-like media types of containerd checkpoints (they have no children). */
const CONTAINERD_CONFIGS = new Set([
  "application/vnd.containerd.container.criu.checkpoint.criu.tar",
  "application/vnd.containerd.container.checkpoint.config.v1+proto",
]);

const DOCKER_LAYERS = new Set<string>([
  DOCKER.LAYER,
  DOCKER.LAYER_GZIP,
  DOCKER.LAYER_FOREIGN,
  DOCKER.LAYER_FOREIGN_GZIP,
]);

/** The media type without parameters (`; charset=…`) or surrounding space. */
export function baseMediaType(mediaType: string): string {
  return mediaType.split(";")[0].trim();
}

/** True for an OCI index or a Docker manifest list. */
export function isIndex(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === OCI.INDEX || base === DOCKER.MANIFEST_LIST;
}

/** True for an OCI manifest or a Docker schema 2 manifest. */
export function isManifest(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === OCI.MANIFEST || base === DOCKER.MANIFEST;
}

/** True for an OCI or Docker image config. */
export function isConfig(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === OCI.CONFIG || base === DOCKER.CONFIG;
}

/** True for a config or another known blob type that has no children. */
export function isKnownConfig(mediaType: string): boolean {
  return isConfig(mediaType) ||
    CONTAINERD_CONFIGS.has(baseMediaType(mediaType));
}

/**
 * True for a layer: any `application/vnd.oci.image.layer.*` type (including
 * encrypted and future compressions) or one of Docker's four layer types.
 */
export function isLayer(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  if (base.startsWith("application/vnd.oci.image.layer.")) return true;
  return DOCKER_LAYERS.has(base.split("+")[0]);
}

/** True for a layer that registries may not redistribute (foreign layers). */
export function isNonDistributable(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base.startsWith("application/vnd.oci.image.layer.nondistributable.") ||
    base.startsWith("application/vnd.docker.image.rootfs.foreign.");
}

/** True for a Docker schema 1 manifest, signed or not. */
export function isSchema1(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === DOCKER.MANIFEST_SCHEMA1 ||
    base === DOCKER.MANIFEST_SCHEMA1_SIGNED;
}

/** True for any `application/vnd.docker.*` type. */
export function isDockerType(mediaType: string): boolean {
  return baseMediaType(mediaType).startsWith("application/vnd.docker.");
}

/**
 * Throws Unimplemented for Docker schema 1, which berth (like containerd
 * 2.x, and containerd 1.6 without conversion) does not handle.
 */
export function refuseSchema1(mediaType: string, subject = "manifest"): void {
  if (isSchema1(mediaType)) {
    throw new BerthError(
      Code.Unimplemented,
      `${subject}: media type ${mediaType}: Docker schema 1 is not supported`,
    );
  }
}

/** The compression a layer media type names, as containerd reports it. */
export function layerCompression(
  mediaType: string,
): "none" | "gzip" | "zstd" | "unknown" {
  const base = baseMediaType(mediaType);
  const [type, ...extensions] = base.split("+");
  if (DOCKER_LAYERS.has(type)) {
    if (extensions.length > 0) return "unknown";
    return type.endsWith(".gzip") ? "gzip" : "unknown";
  }
  if (!isLayer(base)) {
    throw new BerthError(
      Code.Unimplemented,
      `unrecognised media type ${mediaType}`,
    );
  }
  const last = extensions.at(-1);
  if (last === "gzip") return "gzip";
  if (last === "zstd") return "zstd";
  return extensions.length === 0 ? "none" : "unknown";
}
