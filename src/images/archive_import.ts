/**
 * Importing image archives: OCI image layouts (`oci-layout`, `index.json`,
 * `blobs/<alg>/<hex>`) and Docker archives (`manifest.json` with
 * Config/RepoTags/Layers, `repositories`), as a tar stream read once.
 *
 * Every blob goes through the content writer; a blob under `blobs/` is
 * written with its name as the expected digest, so a wrong byte fails the
 * import and stores nothing under that name. Manifests are made for Docker
 * archives. Nothing is named here: the result lists the images to create
 * (name → target), which the caller creates only after every blob is in —
 * so a failed import never leaves an image that looks complete.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import {
  BerthError,
  Code,
  defaultPlatformMatcher,
  type Descriptor,
  DOCKER,
  invalidArgument,
  normalizeReference,
  notFound,
  OCI,
  type PlatformMatcher,
} from "../types/mod.ts";
import { tarEntries } from "./_tar_entries.ts";
import {
  bytesStream,
  collect,
  DEFAULT_MAX_JSON_BYTES,
  type ImageContent,
  tryInfo,
  writeBlob,
} from "./content.ts";
import {
  configPlatform,
  descriptorToJSON,
  type ImageDescriptor,
  parseIndex,
  readConfig,
  validateImageDigest,
} from "./manifest.ts";
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from "./labels.ts";
import {
  isNonDistributable,
  OCI_LAYOUT_FILE,
  OCI_LAYOUT_VERSION,
} from "./mediatypes.ts";
import { ociReferenceName } from "./archive_names.ts";
import { labelChildren, walk } from "./walk.ts";

/** An image an import asks the caller to create (or update). */
export interface ImportedImage {
  /** Its name. */
  name: string;
  /** Its target: a manifest or an index. */
  target: ImageDescriptor;
}

/** The result of {@linkcode importArchive}. */
export interface ImportResult {
  /** The archive's index (OCI `index.json`, or one made for Docker). */
  index: ImageDescriptor;
  /** The images to create, in the archive's order. */
  images: ImportedImage[];
}

/** Options of {@linkcode importArchive}. */
export interface ImportOptions {
  /** Content of the namespace. */
  content: Pick<ImageContent, "info" | "read" | "write" | "updateLabels">;
  /** Which manifests to walk and label (default: the host's platforms). */
  platform?: PlatformMatcher;
  /** Walk every platform (wins over `platform`). */
  allPlatforms?: boolean;
  /** Also name the whole index this (`ctr images import --index-name`). */
  indexName?: string;
  /**
   * Turns an `org.opencontainers.image.ref.name` into an image name (empty:
   * none); `io.containerd.image.name` is taken as it is. Default: as is.
   */
  refTranslator?: (ref: string) => string;
  /** Also names each manifest by its digest (`ctr … --digests`). */
  digestRef?: (digest: string) => string;
  /** Skips the digest name for images with this name. */
  skipDigestRef?: (name: string) => boolean;
  /**
   * Finds a stored blob labelled `containerd.io/uncompressed=<digest>`: a
   * Docker archive's uncompressed layer is then replaced by it (as
   * containerd does), so the manifest matches an earlier pull's.
   */
  findCompressed?: (
    digest: string,
  ) => Promise<{ digest: string; size: number } | undefined>;
  /** Largest JSON document read (index, manifests, configs), default 4 MiB. */
  maxJSONBytes?: number;
  /** Aborts the import. */
  signal?: AbortSignal;
}

const METADATA_FILES = new Set([
  OCI_LAYOUT_FILE,
  "index.json",
  "manifest.json",
  "repositories",
]);

/** A Docker `manifest.json` entry. */
interface DockerManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** What the tar held, once read. */
interface ArchiveContents {
  /** Bytes of `oci-layout`, `index.json`, `manifest.json`, `repositories`. */
  metadata: Map<string, Uint8Array>;
  /** Blobs by clean path. */
  blobs: Map<string, Descriptor & { compression: Compression }>;
  /** Symbolic links by clean path: clean target. */
  symlinks: Map<string, string>;
}

type Compression = "none" | "gzip" | "zstd";

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new BerthError(Code.Canceled, "import", { cause: signal.reason });
  }
}

/** A path inside the archive, cleaned (`./a//b/` → `a/b`). */
function cleanPath(name: string): string {
  const cleaned = posix.normalize(`/${name}`).slice(1);
  return cleaned.replace(/\/+$/, "");
}

/** The digest a `blobs/<alg>/<hex>` path names, or undefined. */
function digestOfPath(path: string): string | undefined {
  const match = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(path);
  if (!match) return undefined;
  const digest = `${match[1]}:${match[2]}`;
  try {
    return validateImageDigest(digest, path);
  } catch {
    return undefined;
  }
}

function compressionOf(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return "gzip";
  if (
    head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd
  ) {
    return "zstd";
  }
  return "none";
}

/** Legacy per-layer metadata of Docker archives, never referenced. */
function isLegacyLayerFile(path: string): boolean {
  const base = posix.basename(path);
  return path.includes("/") && !path.startsWith("blobs/") &&
    (base === "json" || base === "VERSION");
}

async function readArchive(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: ImportOptions,
  maxJSONBytes: number,
): Promise<ArchiveContents> {
  const contents: ArchiveContents = {
    metadata: new Map(),
    blobs: new Map(),
    symlinks: new Map(),
  };
  const runID = crypto.randomUUID();
  for await (const entry of tarEntries(source, { subject: "import" })) {
    checkAborted(options.signal);
    const { header } = entry;
    const path = cleanPath(header.name);
    if (header.type === "symlink") {
      contents.symlinks.set(
        path,
        cleanPath(posix.join(posix.dirname(path), header.linkname ?? "")),
      );
      await entry.skip();
      continue;
    }
    if (header.type !== "file" && header.type !== "contiguous-file") {
      await entry.skip();
      continue;
    }
    if (METADATA_FILES.has(path)) {
      contents.metadata.set(
        path,
        await collect(
          { [Symbol.asyncIterator]: () => entry.body },
          maxJSONBytes,
          `import: ${path}`,
        ),
      );
      continue;
    }
    if (isLegacyLayerFile(path)) {
      await entry.skip();
      continue;
    }
    const expected = digestOfPath(path);
    let head: Uint8Array = new Uint8Array(0);
    let finished = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await entry.body.next();
        if (next.done) {
          finished = true;
          controller.close();
          return;
        }
        if (head.byteLength < 8) {
          const grown = new Uint8Array(head.byteLength + next.value.byteLength);
          grown.set(head);
          grown.set(next.value, head.byteLength);
          head = grown.subarray(0, 8);
        }
        controller.enqueue(next.value);
      },
    }, { highWaterMark: 0 });
    const ref = expected
      ? `import-blob-${expected}`
      : `import-${runID}-${path}`;
    let written: { digest: string; size: number };
    try {
      written = await writeBlob(options.content, ref, stream, {
        expected,
        size: header.size,
      });
    } catch (err) {
      throw wrap(err, `import: failed to ingest ${JSON.stringify(path)}`);
    }
    if (!finished) {
      // Already stored: the rest of the bytes were not needed.
      await entry.skip();
      head = await readHead(options.content, written.digest);
    }
    const compression = compressionOf(head);
    contents.blobs.set(path, { ...written, mediaType: "", compression });
  }
  return contents;
}

/** The first bytes of a stored blob. */
async function readHead(
  content: Pick<ImageContent, "read">,
  digest: string,
): Promise<Uint8Array> {
  const iterator = (await content.read(digest))[Symbol.asyncIterator]();
  try {
    const first = await iterator.next();
    return first.done ? new Uint8Array(0) : first.value.subarray(0, 8);
  } finally {
    await iterator.return?.();
  }
}

function wrap(err: unknown, prefix: string): unknown {
  if (err instanceof BerthError) {
    const wrapped = new BerthError(err.code, "", { cause: err });
    wrapped.message = `${prefix}: ${err.message}`;
    return wrapped;
  }
  return err;
}

function parseJSONFile(bytes: Uint8Array, name: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw invalidArgument(
      `import: ${name}: invalid JSON: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

async function writeJSONBlob(
  content: ImportOptions["content"],
  value: unknown,
  mediaType: string,
): Promise<ImageDescriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const digest = sha256(bytes);
  await writeBlob(content, `manifest-${digest}`, bytesStream(bytes), {
    expected: digest,
    size: bytes.byteLength,
  });
  return { mediaType, digest, size: bytes.byteLength };
}

/** The OCI layout's index, stored as a blob. */
async function ociIndex(
  contents: ArchiveContents,
  options: ImportOptions,
): Promise<ImageDescriptor> {
  const layout = parseJSONFile(
    contents.metadata.get(OCI_LAYOUT_FILE)!,
    OCI_LAYOUT_FILE,
  ) as { imageLayoutVersion?: unknown } | null;
  const version = layout?.imageLayoutVersion;
  if (version !== OCI_LAYOUT_VERSION) {
    throw invalidArgument(
      `import: unsupported OCI version ${JSON.stringify(version)}`,
    );
  }
  const bytes = contents.metadata.get("index.json");
  if (!bytes) {
    throw invalidArgument(
      `import: missing index.json in OCI layout ${OCI_LAYOUT_VERSION}`,
    );
  }
  parseIndex(bytes, { mediaType: OCI.INDEX, subject: "import: index.json" });
  const digest = sha256(bytes);
  await writeBlob(
    options.content,
    `import-index-${digest}`,
    bytesStream(bytes),
    {
      expected: digest,
      size: bytes.byteLength,
    },
  );
  return { mediaType: OCI.INDEX, digest, size: bytes.byteLength };
}

function parseDockerManifests(bytes: Uint8Array): DockerManifestEntry[] {
  const value = parseJSONFile(bytes, "manifest.json");
  const bad = () => invalidArgument("import: manifest.json: unexpected shape");
  if (!Array.isArray(value)) throw bad();
  return value.map((entry) => {
    if (typeof entry !== "object" || entry === null) throw bad();
    const { Config, RepoTags, Layers } = entry as Record<string, unknown>;
    if (typeof Config !== "string") throw bad();
    const strings = (v: unknown) => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
        throw bad();
      }
      return v as string[];
    };
    return { Config, RepoTags: strings(RepoTags), Layers: strings(Layers) };
  });
}

/** Tags by top layer directory, from a legacy `repositories` file. */
function legacyTags(bytes: Uint8Array | undefined): Map<string, string[]> {
  const tags = new Map<string, string[]>();
  if (!bytes) return tags;
  const value = parseJSONFile(bytes, "repositories");
  if (typeof value !== "object" || value === null) return tags;
  for (const [repo, byTag] of Object.entries(value)) {
    if (typeof byTag !== "object" || byTag === null) continue;
    for (const [tag, id] of Object.entries(byTag)) {
      if (typeof id !== "string") continue;
      tags.set(id, [...(tags.get(id) ?? []), `${repo}:${tag}`]);
    }
  }
  return tags;
}

/** An index made for a Docker archive, with one manifest per image. */
async function dockerIndex(
  contents: ArchiveContents,
  options: ImportOptions,
  maxJSONBytes: number,
): Promise<ImageDescriptor> {
  const entries = parseDockerManifests(contents.metadata.get("manifest.json")!);
  const repositories = legacyTags(contents.metadata.get("repositories"));
  const resolve = (path: string, what: string) => {
    const clean = cleanPath(path);
    const blob = contents.blobs.get(clean) ??
      contents.blobs.get(contents.symlinks.get(clean) ?? "");
    if (!blob) throw notFound(`import: ${what} ${JSON.stringify(path)}`);
    return blob;
  };
  const manifests: ImageDescriptor[] = [];
  for (const entry of entries) {
    checkAborted(options.signal);
    const configBlob = resolve(entry.Config, "image config");
    const config: Descriptor = {
      mediaType: DOCKER.CONFIG,
      digest: configBlob.digest,
      size: configBlob.size,
    };
    const layers: Descriptor[] = [];
    for (const path of entry.Layers) {
      let blob: { digest: string; size: number; compression: Compression } =
        resolve(path, "layer");
      if (blob.compression === "none" && options.findCompressed) {
        const found = await options.findCompressed(blob.digest);
        if (found) {
          const head = await readHead(options.content, found.digest);
          blob = { ...found, compression: compressionOf(head) };
        }
      }
      const mediaType = blob.compression === "gzip"
        ? DOCKER.LAYER_GZIP
        : blob.compression === "zstd"
        ? OCI.LAYER_ZSTD
        : DOCKER.LAYER;
      layers.push({ mediaType, digest: blob.digest, size: blob.size });
    }
    const desc = await writeJSONBlob(options.content, {
      schemaVersion: 2,
      mediaType: DOCKER.MANIFEST,
      config: descriptorToJSON(config),
      layers: layers.map(descriptorToJSON),
    }, DOCKER.MANIFEST);
    const parsed = await readConfig(options.content, config, {
      maxBytes: maxJSONBytes,
    });
    const platform = configPlatform({ ...parsed, variant: undefined });
    if (platform.os) desc.platform = platform;
    let tags = entry.RepoTags;
    if (tags.length === 0 && entry.Layers.length > 0) {
      tags = repositories.get(posix.dirname(cleanPath(entry.Layers.at(-1)!))) ??
        [];
    }
    if (tags.length === 0) {
      manifests.push(desc);
      continue;
    }
    for (const tag of tags) {
      const name = normalizeReference(tag);
      const annotations: Record<string, string> = {
        [ANNOTATION_IMAGE_NAME]: name,
      };
      const short = ociReferenceName(name);
      if (short) annotations[ANNOTATION_REF_NAME] = short;
      manifests.push({ ...desc, annotations });
    }
  }
  return await writeJSONBlob(options.content, {
    schemaVersion: 2,
    manifests: manifests.map(descriptorToJSON),
  }, OCI.INDEX);
}

function imageName(
  annotations: Record<string, string> | undefined,
  translate: ((ref: string) => string) | undefined,
): string {
  const name = annotations?.[ANNOTATION_IMAGE_NAME];
  if (name) return name;
  const ref = annotations?.[ANNOTATION_REF_NAME] ?? "";
  return ref && translate ? translate(ref) : ref;
}

/**
 * Imports an OCI layout or Docker archive from `source`: stores every blob
 * (verified), labels the graph for garbage collection, and returns the
 * images to create. The manifests of the selected platforms must be
 * complete in the archive.
 *
 * @throws {BerthError} InvalidArgument for a malformed archive or a wrong
 * digest, NotFound for a blob the archive lacks, ResourceExhausted for a
 * JSON document over the limit.
 */
export async function importArchive(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: ImportOptions,
): Promise<ImportResult> {
  const maxJSONBytes = options.maxJSONBytes ?? DEFAULT_MAX_JSON_BYTES;
  const contents = await readArchive(source, options, maxJSONBytes);
  checkAborted(options.signal);
  let index: ImageDescriptor;
  if (contents.metadata.has(OCI_LAYOUT_FILE)) {
    index = await ociIndex(contents, options);
  } else if (contents.metadata.has("manifest.json")) {
    index = await dockerIndex(contents, options, maxJSONBytes);
  } else {
    throw invalidArgument("import: unrecognized image format");
  }

  const images: ImportedImage[] = [];
  if (options.indexName) {
    images.push({ name: options.indexName, target: index });
  }
  const platform = options.allPlatforms
    ? undefined
    : options.platform ?? defaultPlatformMatcher();
  let walkedChildren = false;
  for await (
    const step of walk(options.content, [index], {
      platform,
      maxBytes: maxJSONBytes,
    })
  ) {
    checkAborted(options.signal);
    if (step.depth === 0) {
      for (const manifest of step.children) {
        const name = imageName(manifest.annotations, options.refTranslator);
        if (name) images.push({ name, target: manifest });
        if (options.skipDigestRef?.(name)) continue;
        const digestName = options.digestRef?.(manifest.digest);
        if (digestName) images.push({ name: digestName, target: manifest });
      }
    } else if (
      !isNonDistributable(step.descriptor.mediaType) &&
      !(await tryInfo(options.content, step.descriptor.digest))
    ) {
      throw notFound(
        `import: blob ${step.descriptor.digest} (${step.descriptor.mediaType}) missing from the archive`,
      );
    }
    if (step.selected.length > 0) walkedChildren = true;
    await labelChildren(options.content, step.descriptor, step.selected);
  }
  if (!walkedChildren) {
    throw notFound("import: image might be filtered out");
  }
  return { index, images };
}
