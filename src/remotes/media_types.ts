/**
 * The manifest media types a registry serves, and the `Accept` header that
 * asks for all of them.
 *
 * @module
 */

/** OCI image index. */
export const MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image manifest. */
export const MEDIA_TYPE_OCI_MANIFEST =
  "application/vnd.oci.image.manifest.v1+json";
/** Docker manifest list (schema 2). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST =
  "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker image manifest (schema 2). */
export const MEDIA_TYPE_DOCKER_MANIFEST =
  "application/vnd.docker.distribution.manifest.v2+json";
/** Docker schema 1 signed manifest: recognized, not supported. */
export const MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST =
  "application/vnd.docker.distribution.manifest.v1+prettyjws";

/** The manifest types resolved and fetched from `/manifests/`. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
];

/** `Accept` for resolving: every manifest type, then anything. */
export const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, "*/*"].join(", ");

/** True for the types served under `/manifests/` (index, manifest, lists). */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType) ||
    mediaType === MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST;
}

/** The media type of a `Content-Type` header, without parameters. */
export function contentMediaType(contentType: string | null): string {
  if (!contentType) return "";
  const type = contentType.split(";")[0].trim().toLowerCase();
  // Some registries serve schema 1 manifests as text/plain.
  return type === "text/plain" ? MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST : type;
}

/**
 * The media type a manifest's JSON declares, or what its shape says
 * (`manifests` → index, `layers`/`config` → manifest); undefined when the
 * bytes are not a manifest.
 */
export function sniffManifestMediaType(bytes: Uint8Array): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return undefined;
  }
  const record = doc as Record<string, unknown>;
  if (typeof record.mediaType === "string" && record.mediaType) {
    return record.mediaType;
  }
  if (record.schemaVersion === 1) return MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST;
  if (Array.isArray(record.manifests)) return MEDIA_TYPE_OCI_INDEX;
  if (Array.isArray(record.layers) || typeof record.config === "object") {
    return MEDIA_TYPE_OCI_MANIFEST;
  }
  return undefined;
}
