/**
 * Manifests, indexes and configs: read from content with size limits,
 * parsed, and checked for shape (valid digests, non-negative sizes, an
 * index is not a manifest, schema 1 refused). Also a descriptor's children
 * and the manifest an index offers for a platform.
 *
 * @module
 */
import {
  BerthError,
  Code,
  type Descriptor,
  invalidArgument,
  normalizePlatform,
  notFound,
  OCI,
  type Platform,
  platformFromJSON,
  type PlatformMatcher,
  platformToJSON,
} from "../types/mod.ts";
import {
  DEFAULT_MAX_JSON_BYTES,
  type ImageContent,
  readBlob,
} from "./content.ts";
import { isIndex, isManifest, isSchema1, refuseSchema1 } from "./mediatypes.ts";

/** A descriptor as manifests and indexes carry them. */
export interface ImageDescriptor extends Descriptor {
  /** The platform of the manifest it points to (index entries). */
  platform?: Platform;
  /** Other places to fetch it from. */
  urls?: string[];
  /** The artifact type (OCI 1.1). */
  artifactType?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface Manifest {
  /** Always 2. */
  schemaVersion: number;
  /** The media type the document declares, if any. */
  mediaType?: string;
  /** The config blob. */
  config: ImageDescriptor;
  /** The layers, base first. */
  layers: ImageDescriptor[];
  /** The manifest this one refers to (OCI 1.1). */
  subject?: ImageDescriptor;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface Index {
  /** Always 2. */
  schemaVersion: number;
  /** The media type the document declares, if any. */
  mediaType?: string;
  /** The manifests (or nested indexes). */
  manifests: ImageDescriptor[];
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** The parts of an image config that image logic reads. */
export interface ImageConfig {
  /** CPU architecture. */
  architecture: string;
  /** Operating system. */
  os: string;
  /** CPU variant. */
  variant?: string;
  /** Digests of the uncompressed layers, base first. */
  diffIDs: string[];
  /** The whole document. */
  raw: Record<string, unknown>;
}

/** Options of the readers. */
export interface ReadJSONOptions {
  /** Largest document accepted, in bytes (default 4 MiB). */
  maxBytes?: number;
}

const ALGORITHM_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Throws InvalidArgument unless `digest` is a valid sha256 or sha512 digest. */
export function validateImageDigest(digest: unknown, subject: string): string {
  if (typeof digest !== "string" || !ANY_DIGEST.test(digest)) {
    throw invalidArgument(
      `${subject}: ${JSON.stringify(digest)} is not a valid digest`,
    );
  }
  const [algorithm, encoded] = digest.split(":", 2);
  const length = ALGORITHM_LENGTH[algorithm];
  if (length === undefined) {
    throw invalidArgument(
      `${subject}: ${JSON.stringify(digest)}: unsupported digest algorithm`,
    );
  }
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    throw invalidArgument(
      `${subject}: ${JSON.stringify(digest)}: invalid checksum digest`,
    );
  }
  return digest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringMap(
  value: unknown,
  subject: string,
): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    !isObject(value) || Object.values(value).some((v) => typeof v !== "string")
  ) {
    throw invalidArgument(
      `${subject}: annotations must map strings to strings`,
    );
  }
  return { ...value } as Record<string, string>;
}

/** Parses and checks a descriptor from its JSON form. */
export function descriptorFromJSON(
  value: unknown,
  subject: string,
): ImageDescriptor {
  if (!isObject(value)) {
    throw invalidArgument(`${subject}: descriptor must be an object`);
  }
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== "string" || mediaType === "") {
    throw invalidArgument(`${subject}: mediaType must be a non-empty string`);
  }
  validateImageDigest(digest, subject);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(
      `${subject}: size ${JSON.stringify(size)} must be a non-negative integer`,
    );
  }
  const desc: ImageDescriptor = {
    mediaType,
    digest: digest as string,
    size,
  };
  const annotations = stringMap(value.annotations, subject);
  if (annotations) desc.annotations = annotations;
  if (value.urls !== undefined && value.urls !== null) {
    if (
      !Array.isArray(value.urls) ||
      value.urls.some((u) => typeof u !== "string")
    ) {
      throw invalidArgument(`${subject}: urls must be a list of strings`);
    }
    desc.urls = [...value.urls];
  }
  if (value.platform !== undefined && value.platform !== null) {
    desc.platform = platformFromJSON(value.platform, subject);
  }
  if (typeof value.artifactType === "string" && value.artifactType) {
    desc.artifactType = value.artifactType;
  }
  return desc;
}

/** The JSON form of a descriptor, keys in Go's (containerd's) order. */
export function descriptorToJSON(
  desc: ImageDescriptor,
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
  };
  if (desc.urls?.length) json.urls = desc.urls;
  if (desc.annotations && Object.keys(desc.annotations).length) {
    json.annotations = desc.annotations;
  }
  if (desc.platform) json.platform = platformToJSON(desc.platform);
  if (desc.artifactType) json.artifactType = desc.artifactType;
  return json;
}

function parseJSON(
  bytes: Uint8Array,
  subject: string,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw invalidArgument(
      `${subject}: invalid JSON: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  if (!isObject(value)) {
    throw invalidArgument(`${subject}: document must be a JSON object`);
  }
  return value;
}

/**
 * Refuses schema 1 documents and a manifest that is really an index (or the
 * reverse), as containerd does before trusting a descriptor's media type.
 */
function checkDocumentKind(
  doc: Record<string, unknown>,
  mediaType: string,
  subject: string,
): void {
  const declared = typeof doc.mediaType === "string" ? doc.mediaType : "";
  if (
    doc.fsLayers !== undefined || doc.schemaVersion === 1 || isSchema1(declared)
  ) {
    throw new BerthError(
      Code.Unimplemented,
      `${subject}: media-type: Docker schema 1 is not supported`,
    );
  }
  if (isManifest(mediaType)) {
    if (doc.manifests !== undefined || isIndex(declared)) {
      throw invalidArgument(
        `${subject}: media-type: expected manifest but found index (${mediaType})`,
      );
    }
  } else if (isIndex(mediaType)) {
    if (
      doc.config !== undefined || doc.layers !== undefined ||
      isManifest(declared)
    ) {
      throw invalidArgument(
        `${subject}: media-type: expected index but found manifest (${mediaType})`,
      );
    }
  }
}

function schemaVersion(doc: Record<string, unknown>, subject: string): number {
  if (doc.schemaVersion !== 2) {
    throw invalidArgument(
      `${subject}: schemaVersion ${JSON.stringify(doc.schemaVersion)} is not 2`,
    );
  }
  return 2;
}

/**
 * Parses a manifest. `mediaType` is the descriptor's (default: what the
 * document declares, else OCI).
 */
export function parseManifest(
  bytes: Uint8Array,
  options: { mediaType?: string; subject?: string } = {},
): Manifest {
  const subject = options.subject ?? "manifest";
  const doc = parseJSON(bytes, subject);
  const mediaType = options.mediaType ??
    (typeof doc.mediaType === "string" ? doc.mediaType : OCI.MANIFEST);
  checkDocumentKind(doc, mediaType, subject);
  const manifest: Manifest = {
    schemaVersion: schemaVersion(doc, subject),
    config: descriptorFromJSON(doc.config, `${subject} config`),
    layers: [],
  };
  if (typeof doc.mediaType === "string") manifest.mediaType = doc.mediaType;
  if (doc.layers !== undefined && doc.layers !== null) {
    if (!Array.isArray(doc.layers)) {
      throw invalidArgument(`${subject}: layers must be a list`);
    }
    manifest.layers = doc.layers.map((layer, i) =>
      descriptorFromJSON(layer, `${subject} layer ${i}`)
    );
  }
  if (doc.subject !== undefined && doc.subject !== null) {
    manifest.subject = descriptorFromJSON(doc.subject, `${subject} subject`);
  }
  const annotations = stringMap(doc.annotations, subject);
  if (annotations) manifest.annotations = annotations;
  return manifest;
}

/** Parses an index or manifest list. */
export function parseIndex(
  bytes: Uint8Array,
  options: { mediaType?: string; subject?: string } = {},
): Index {
  const subject = options.subject ?? "index";
  const doc = parseJSON(bytes, subject);
  const mediaType = options.mediaType ??
    (typeof doc.mediaType === "string" ? doc.mediaType : OCI.INDEX);
  checkDocumentKind(doc, mediaType, subject);
  const index: Index = {
    schemaVersion: schemaVersion(doc, subject),
    manifests: [],
  };
  if (typeof doc.mediaType === "string") index.mediaType = doc.mediaType;
  if (doc.manifests !== undefined && doc.manifests !== null) {
    if (!Array.isArray(doc.manifests)) {
      throw invalidArgument(`${subject}: manifests must be a list`);
    }
    index.manifests = doc.manifests.map((m, i) =>
      descriptorFromJSON(m, `${subject} manifest ${i}`)
    );
  }
  const annotations = stringMap(doc.annotations, subject);
  if (annotations) index.annotations = annotations;
  return index;
}

/** Parses an image config (the fields image logic needs, plus the rest). */
export function parseConfig(
  bytes: Uint8Array,
  options: { subject?: string } = {},
): ImageConfig {
  const subject = options.subject ?? "image config";
  const doc = parseJSON(bytes, subject);
  const text = (key: string) => {
    const value = doc[key];
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") {
      throw invalidArgument(`${subject}: ${key} must be a string`);
    }
    return value;
  };
  const rootfs = doc.rootfs;
  let diffIDs: string[] = [];
  if (rootfs !== undefined && rootfs !== null) {
    if (!isObject(rootfs)) {
      throw invalidArgument(`${subject}: rootfs must be an object`);
    }
    const ids = rootfs.diff_ids;
    if (ids !== undefined && ids !== null) {
      if (!Array.isArray(ids)) {
        throw invalidArgument(`${subject}: rootfs.diff_ids must be a list`);
      }
      diffIDs = ids.map((id, i) =>
        validateImageDigest(id, `${subject} diff_ids[${i}]`)
      );
    }
  }
  const config: ImageConfig = {
    architecture: text("architecture"),
    os: text("os"),
    diffIDs,
    raw: doc,
  };
  const variant = text("variant");
  if (variant) config.variant = variant;
  return config;
}

/** The platform an image config describes, normalised. */
export function configPlatform(config: ImageConfig): Platform {
  return normalizePlatform({
    os: config.os,
    architecture: config.architecture,
    variant: config.variant,
  });
}

function subjectOf(desc: Descriptor, kind: string): string {
  return `${kind} ${desc.digest}`;
}

/** Reads and parses the manifest `desc` names. */
export async function readManifest(
  content: Pick<ImageContent, "info" | "read">,
  desc: Descriptor,
  options: ReadJSONOptions = {},
): Promise<Manifest> {
  refuseSchema1(desc.mediaType, subjectOf(desc, "manifest"));
  const bytes = await readBlob(
    content,
    desc,
    options.maxBytes ?? DEFAULT_MAX_JSON_BYTES,
  );
  return parseManifest(bytes, {
    mediaType: desc.mediaType,
    subject: subjectOf(desc, "manifest"),
  });
}

/** Reads and parses the index `desc` names. */
export async function readIndex(
  content: Pick<ImageContent, "info" | "read">,
  desc: Descriptor,
  options: ReadJSONOptions = {},
): Promise<Index> {
  const bytes = await readBlob(
    content,
    desc,
    options.maxBytes ?? DEFAULT_MAX_JSON_BYTES,
  );
  return parseIndex(bytes, {
    mediaType: desc.mediaType,
    subject: subjectOf(desc, "index"),
  });
}

/** Reads and parses the config `desc` names. */
export async function readConfig(
  content: Pick<ImageContent, "info" | "read">,
  desc: Descriptor,
  options: ReadJSONOptions = {},
): Promise<ImageConfig> {
  const bytes = await readBlob(
    content,
    desc,
    options.maxBytes ?? DEFAULT_MAX_JSON_BYTES,
  );
  return parseConfig(bytes, { subject: subjectOf(desc, "image config") });
}

/**
 * The children of `desc`: an index's manifests, a manifest's config and
 * layers; none for configs, layers and unknown types (which may have
 * children berth does not know how to find).
 *
 * @throws {BerthError} Unimplemented for Docker schema 1.
 */
export async function children(
  content: Pick<ImageContent, "info" | "read">,
  desc: Descriptor,
  options: ReadJSONOptions = {},
): Promise<ImageDescriptor[]> {
  refuseSchema1(desc.mediaType, subjectOf(desc, "manifest"));
  if (isManifest(desc.mediaType)) {
    const manifest = await readManifest(content, desc, options);
    return [manifest.config, ...manifest.layers];
  }
  if (isIndex(desc.mediaType)) {
    return (await readIndex(content, desc, options)).manifests;
  }
  return [];
}

/** What {@linkcode manifestFor} found. */
export interface PlatformManifest {
  /** The manifest's descriptor (with the index's platform, if any). */
  descriptor: ImageDescriptor;
  /** The manifest. */
  manifest: Manifest;
}

/** Options of {@linkcode manifestFor}. */
export interface ManifestForOptions extends ReadJSONOptions {
  /** Largest depth of nested indexes followed (default 8). */
  maxDepth?: number;
}

/**
 * The manifest `image` offers for `platform`: `image` itself when it is a
 * manifest (any platform); for an index, the best match among its entries
 * (entries without a platform are judged by their config), nested indexes
 * followed. Without a matcher, the first manifest. Where containerd follows
 * only the best-ranked entry, this goes on to the next when an entry
 * without a platform turns out (by its config) not to match.
 *
 * @throws {BerthError} NotFound `no match for platform in manifest …` when
 * nothing matches; NotFound for a missing blob; InvalidArgument for an
 * unexpected media type.
 */
export async function manifestFor(
  content: Pick<ImageContent, "info" | "read">,
  image: Descriptor,
  platform?: PlatformMatcher,
  options: ManifestForOptions = {},
): Promise<PlatformManifest> {
  const maxDepth = options.maxDepth ?? 8;
  let wasIndex = false;

  const visit = async (
    desc: ImageDescriptor,
    depth: number,
  ): Promise<PlatformManifest | undefined> => {
    refuseSchema1(desc.mediaType, subjectOf(desc, "manifest"));
    if (isManifest(desc.mediaType)) {
      const manifest = await readManifest(content, desc, options);
      if (desc.digest !== image.digest && platform) {
        if (desc.platform) {
          if (!platform.match(desc.platform)) return undefined;
        } else {
          const config = await readConfig(content, manifest.config, options);
          if (!platform.match(configPlatform(config))) return undefined;
        }
      }
      return { descriptor: desc, manifest };
    }
    if (isIndex(desc.mediaType)) {
      if (depth >= maxDepth) {
        throw invalidArgument(
          `index ${desc.digest}: indexes nested deeper than ${maxDepth}`,
        );
      }
      const index = await readIndex(content, desc, options);
      wasIndex = true;
      let entries = index.manifests;
      if (platform) {
        entries = entries.filter((d) =>
          !d.platform || platform.match(d.platform)
        );
        entries = stableSort(entries, (a, b) => {
          if (!a.platform) return false;
          if (!b.platform) return true;
          return platform.less(a.platform, b.platform);
        });
      }
      for (const entry of entries) {
        const found = await visit(entry, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    throw notFound(
      `unexpected media type ${desc.mediaType} for ${desc.digest}`,
    );
  };

  const found = await visit(image, 0);
  if (!found) {
    throw notFound(
      wasIndex
        ? `no match for platform in manifest ${image.digest}`
        : `manifest ${image.digest}`,
    );
  }
  return found;
}

/** A stable sort by a `less` relation, as Go's sort.SliceStable. */
export function stableSort<T>(
  items: readonly T[],
  less: (a: T, b: T) => boolean,
): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => {
      if (less(a.item, b.item)) return -1;
      if (less(b.item, a.item)) return 1;
      return a.i - b.i;
    })
    .map(({ item }) => item);
}
