/**
 * Client-side image helpers, shaped like containerd's `images` package:
 * walks over an image's manifests read through `Content.Read` (size,
 * platforms, the manifest of a platform, completeness, the rootfs chain ID).
 * The cli may not import berth's images component, so these are the few
 * pieces ctr itself computes on the client; platform parsing and matching
 * are shared types (`src/types/platform.ts`).
 *
 * @module
 */
import { Code, hasCode } from "../src/client/errors.ts";
import { Content } from "../src/gen/containerd/services/content/v1/content_pb.ts";
import { isConfig, isIndex, isManifest } from "../src/images/mediatypes.ts";
import {
  normalizePlatform,
  type Platform,
  type PlatformMatcher,
} from "../src/types/platform.ts";
import type { Connection } from "./_client.ts";
import { readBlob } from "../src/client/content.ts";
import { errorMessage } from "../src/client/errors.ts";

/** A content descriptor, as image JSON documents hold them. */
export interface Descriptor {
  /** Media type. */
  mediaType: string;
  /** `sha256:…`. */
  digest: string;
  /** Size in bytes. */
  size: number;
  /** Platform of a manifest in an index. */
  platform?: Platform;
}

/** An index (OCI) or manifest list (Docker). */
export const isIndexType: (mt: string) => boolean = isIndex;

/** A manifest (OCI or Docker schema 2). */
export const isManifestType: (mt: string) => boolean = isManifest;

/** An image config. */
export const isConfigType: (mt: string) => boolean = isConfig;

/** The error containerd's errdefs would call NotFound. */
export class NotFoundError extends Error {
  /** Message suffixed `: not found`, as errdefs wraps it. */
  constructor(message: string) {
    super(`${message}: not found`);
  }
}

/** Whether `err` is a NotFound: from the daemon, or made here. */
export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError ||
    hasCode(err, Code.NotFound);
}

// ------------------------------------------------------------------ content

/** Where image documents are read from. */
export interface BlobSource {
  /** The blob parsed as JSON. */
  json<T>(digest: string): Promise<T>;
  /** Whether the store has the blob. */
  has(digest: string): Promise<boolean>;
}

/** Reads blobs of the daemon's content store, each at most once. */
export class ContentReader implements BlobSource {
  readonly #conn: Connection;
  readonly #blobs = new Map<string, Promise<Uint8Array>>();

  /** Reads through `conn`. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** The whole blob. */
  read(digest: string): Promise<Uint8Array> {
    let blob = this.#blobs.get(digest);
    if (!blob) {
      blob = new Response(ReadableStream.from(readBlob(this.#conn.api, digest)))
        .arrayBuffer().then((bytes) => new Uint8Array(bytes));
      this.#blobs.set(digest, blob);
    }
    return blob;
  }

  /** The blob parsed as JSON. */
  async json<T>(digest: string): Promise<T> {
    return JSON.parse(new TextDecoder().decode(await this.read(digest)));
  }

  /** Whether the store has the blob (NotFound is false). */
  async has(digest: string): Promise<boolean> {
    try {
      await this.#conn.client(Content).info({ digest }, {
        signal: this.#conn.signal,
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

interface Document {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  fsLayers?: unknown[];
}

/** Checks a document against its descriptor's media type, as containerd. */
function validateMediaType(doc: Document, mediaType: string): void {
  if (doc.fsLayers?.length) {
    throw new Error("media-type: schema 1 not supported");
  }
  if (isManifestType(mediaType)) {
    if (doc.manifests?.length || isIndexType(doc.mediaType ?? "")) {
      throw new Error(
        `media-type: expected manifest but found index (${mediaType})`,
      );
    }
  } else if (isIndexType(mediaType)) {
    if (
      doc.config || doc.layers?.length ||
      isManifestType(doc.mediaType ?? "")
    ) {
      throw new Error(
        `media-type: expected index but found manifest (${mediaType})`,
      );
    }
  }
}

async function readDocument(
  reader: BlobSource,
  desc: Descriptor,
  what: string,
): Promise<Document> {
  const doc = await reader.json<Document>(desc.digest);
  try {
    validateMediaType(doc, desc.mediaType);
  } catch (err) {
    throw new Error(
      `${what}: invalid desc ${desc.digest}: ${errorMessage(err)}`,
    );
  }
  return doc;
}

/** A descriptor's children, as `images.Children`. */
export async function children(
  reader: BlobSource,
  desc: Descriptor,
): Promise<Descriptor[]> {
  if (isManifestType(desc.mediaType)) {
    const doc = await readDocument(reader, desc, "children");
    return [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])];
  }
  if (isIndexType(desc.mediaType)) {
    const doc = await readDocument(reader, desc, "children");
    return [...(doc.manifests ?? [])];
  }
  // Layers, configs and unknown types have no children.
  return [];
}

/** Thrown by a walk handler to skip a descriptor's children. */
const SKIP = Symbol("skip");

/** A depth-first walk, as `images.Walk`. */
async function walk(
  handler: (desc: Descriptor) => Promise<Descriptor[] | typeof SKIP>,
  descs: readonly Descriptor[],
): Promise<void> {
  for (const desc of descs) {
    const next = await handler(desc);
    if (next === SKIP) continue;
    if (next.length) await walk(handler, next);
  }
}

/** Sorts an index's manifests by preference, without-platform last. */
function sortByPlatform(
  descs: Descriptor[],
  matcher: PlatformMatcher,
): Descriptor[] {
  // Array.prototype.sort is stable, as Go's sort.SliceStable.
  return descs.sort((a, b) => {
    if (!a.platform) return b.platform ? 1 : 0;
    if (!b.platform) return -1;
    if (matcher.less(a.platform, b.platform)) return -1;
    if (matcher.less(b.platform, a.platform)) return 1;
    return 0;
  });
}

/**
 * The image's size for `matcher` (`Image.Size`): the target, the best
 * matching manifest, its config and layers. On an error, the size counted
 * before it comes with the error.
 */
export async function imageSize(
  reader: BlobSource,
  target: Descriptor,
  matcher: PlatformMatcher,
): Promise<{ size: number; error?: unknown }> {
  let size = 0;
  try {
    await walk(async (desc) => {
      if (desc.size < 0) {
        throw new Error(
          `invalid size ${desc.size} in ${desc.digest} (${desc.mediaType})`,
        );
      }
      size += desc.size;
      let kids = (await children(reader, desc)).filter((d) =>
        !d.platform || matcher.match(d.platform)
      );
      if (isIndexType(desc.mediaType)) {
        kids = sortByPlatform(kids, matcher);
        if (kids.length === 0) {
          throw new NotFoundError("no match for platform in manifest");
        }
        kids = kids.slice(0, 1);
      }
      return kids;
    }, [target]);
  } catch (error) {
    return { size, error };
  }
  return { size };
}

/** Every platform the image has (`images.Platforms`), in walk order. */
export async function imagePlatforms(
  reader: BlobSource,
  target: Descriptor,
): Promise<Platform[]> {
  const found: Platform[] = [];
  await walk(async (desc) => {
    if (desc.platform) {
      found.push(desc.platform);
      return SKIP;
    }
    if (isConfigType(desc.mediaType)) {
      const config = await reader.json<{ os?: string; architecture?: string }>(
        desc.digest,
      );
      found.push(
        normalizePlatform({
          os: config.os ?? "",
          architecture: config.architecture ?? "",
        }),
      );
    }
    return await children(reader, desc);
  }, [target]);
  return found;
}

/** A manifest's config and layers. */
export interface Manifest {
  /** The config's descriptor. */
  config: Descriptor;
  /** The layers, bottom first. */
  layers: Descriptor[];
}

/**
 * The manifest of the image that best matches `matcher` (`images.Manifest`);
 * a NotFoundError when there is none, or a document is missing.
 */
export async function imageManifest(
  reader: BlobSource,
  target: Descriptor,
  matcher: PlatformMatcher,
): Promise<Manifest> {
  const found: Manifest[] = [];
  let wasIndex = false;
  await walk(async (desc) => {
    if (isManifestType(desc.mediaType)) {
      const doc = await readDocument(reader, desc, "manifest");
      const manifest = { config: doc.config!, layers: doc.layers ?? [] };
      if (desc.digest !== target.digest) {
        if (desc.platform && !matcher.match(desc.platform)) return [];
        if (!desc.platform) {
          const config = await reader.json<
            { os?: string; architecture?: string }
          >(manifest.config.digest);
          const platform = normalizePlatform({
            os: config.os ?? "",
            architecture: config.architecture ?? "",
          });
          if (!matcher.match(platform)) return [];
        }
      }
      found.push(manifest);
      return [];
    }
    if (isIndexType(desc.mediaType)) {
      const doc = await readDocument(reader, desc, "manifest");
      const descs = sortByPlatform(
        (doc.manifests ?? []).filter((d) =>
          !d.platform || matcher.match(d.platform)
        ),
        matcher,
      );
      wasIndex = true;
      return descs.slice(0, 1);
    }
    throw new NotFoundError(
      `unexpected media type ${desc.mediaType} for ${desc.digest}`,
    );
  }, [target]);
  if (found.length === 0) {
    throw new NotFoundError(
      wasIndex
        ? `no match for platform in manifest ${target.digest}`
        : `manifest ${target.digest}`,
    );
  }
  return found[0];
}

/** What `images.Check` finds. */
export interface CheckResult {
  /** Whether the manifest could be read. */
  available: boolean;
  /** The config and layers (or the target when unavailable). */
  required: Descriptor[];
  /** The required blobs the store has. */
  present: Descriptor[];
  /** The required blobs it lacks. */
  missing: Descriptor[];
}

/** Whether the image's blobs for `matcher` are all stored (`images.Check`). */
export async function checkImage(
  reader: BlobSource,
  target: Descriptor,
  matcher: PlatformMatcher,
): Promise<CheckResult> {
  let manifest: Manifest;
  try {
    manifest = await imageManifest(reader, target, matcher);
  } catch (err) {
    if (isNotFound(err)) {
      return {
        available: false,
        required: [target],
        present: [],
        missing: [target],
      };
    }
    throw new Error(
      `failed to check image ${target.digest}: ${errorMessage(err)}`,
    );
  }
  const required = [manifest.config, ...manifest.layers];
  const present: Descriptor[] = [];
  const missing: Descriptor[] = [];
  for (const desc of required) {
    (await reader.has(desc.digest) ? present : missing).push(desc);
  }
  return { available: true, required, present, missing };
}

/** The diff IDs of the image's layers for `matcher` (`Image.RootFS`). */
export async function rootFS(
  reader: BlobSource,
  target: Descriptor,
  matcher: PlatformMatcher,
): Promise<string[]> {
  const manifest = await imageManifest(reader, target, matcher);
  const config = await reader.json<{ rootfs?: { diff_ids?: string[] } }>(
    manifest.config.digest,
  );
  return config.rootfs?.diff_ids ?? [];
}

export { chainID } from "../src/images/identity.ts";

/** A descriptor from the wire (`containerd.types.Descriptor`). */
export function fromWire(
  desc: { mediaType: string; digest: string; size: bigint } | undefined,
): Descriptor {
  return {
    mediaType: desc?.mediaType ?? "",
    digest: desc?.digest ?? "",
    size: Number(desc?.size ?? 0n),
  };
}
