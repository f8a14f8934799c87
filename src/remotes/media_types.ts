/**
 * The manifest media types a registry serves, the `Accept` header that
 * asks for all of them, and reading a manifest's type from a response.
 * The media type names are the shared `OCI` and `DOCKER`.
 *
 * @module
 */
import { DOCKER, OCI } from "../types/mod.ts";

/** The manifest types resolved and fetched from `/manifests/`. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  DOCKER.MANIFEST,
  DOCKER.MANIFEST_LIST,
  OCI.MANIFEST,
  OCI.INDEX,
];

/** `Accept` for resolving: every manifest type, then anything. */
export const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, "*/*"].join(", ");

/**
 * True for the types served under `/manifests/` (index, manifest, lists,
 * and the signed schema 1 manifest, recognized only to be refused).
 */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType) ||
    mediaType === DOCKER.MANIFEST_SCHEMA1_SIGNED;
}

/** The media type of a `Content-Type` header, without parameters. */
export function contentMediaType(contentType: string | null): string {
  if (!contentType) return "";
  const type = contentType.split(";")[0].trim().toLowerCase();
  // Some registries serve schema 1 manifests as text/plain.
  return type === "text/plain" ? DOCKER.MANIFEST_SCHEMA1_SIGNED : type;
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
  if (record.schemaVersion === 1) return DOCKER.MANIFEST_SCHEMA1_SIGNED;
  if (Array.isArray(record.manifests)) return OCI.INDEX;
  if (Array.isArray(record.layers) || typeof record.config === "object") {
    return OCI.MANIFEST;
  }
  return undefined;
}
