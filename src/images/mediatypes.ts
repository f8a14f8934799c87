/**
 * What each kind of blob is, by its media type (the constants `OCI` and
 * `DOCKER` are in `src/types/media_types.ts`): an index (manifest list), a
 * manifest, a config or a layer. Docker schema 1 manifests are recognised
 * only to be refused.
 *
 * @module
 */
import { BerthError, Code, DOCKER, OCI } from "../types/mod.ts";

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
