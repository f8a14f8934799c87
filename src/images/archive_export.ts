/**
 * Exporting images as a tar that is both an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`) and a Docker archive (`manifest.json`),
 * the way `ctr images export` writes one, so that `ctr images import`,
 * containerd and `docker load` read it. Entries are sorted by name; blob
 * bytes are streamed from content and checked against their digests.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Header, pack as tarPack } from "tar-stream";
import {
  BerthError,
  Code,
  type Descriptor,
  familiarString,
  invalidArgument,
  notFound,
  parseReference,
  type PlatformMatcher,
} from "../types/mod.ts";
import { DEFAULT_MAX_JSON_BYTES, type ImageContent } from "./content.ts";
import {
  descriptorToJSON,
  type ImageDescriptor,
  readIndex,
  readManifest,
  stableSort,
  validateImageDigest,
} from "./manifest.ts";
import {
  isIndex,
  isManifest,
  isNonDistributable,
  OCI_LAYOUT_FILE,
  OCI_LAYOUT_VERSION,
} from "./mediatypes.ts";
import { ociReferenceName } from "./archive_names.ts";
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from "./labels.ts";
import { walk } from "./walk.ts";

/** One image to export: a manifest or index, under zero or more names. */
export interface ExportImage {
  /** The manifest or index. */
  target: ImageDescriptor;
  /** Names to record (`io.containerd.image.name`, Docker `RepoTags`). */
  names?: readonly string[];
}

/** Options of {@linkcode exportArchive}. */
export interface ExportOptions {
  /** Content of the namespace. */
  content: Pick<ImageContent, "info" | "read">;
  /** What to export. */
  images: readonly ExportImage[];
  /**
   * Which manifests of an index to include, and which one Docker's
   * `manifest.json` names (the best match). Absent: every manifest, and
   * no `manifest.json` entry for indexes.
   */
  platform?: PlatformMatcher;
  /** Include every manifest of an index, whatever `platform` says. */
  allPlatforms?: boolean;
  /** Do not write Docker's `manifest.json`. */
  skipDockerManifest?: boolean;
  /** Leave out non-distributable (foreign) layers. */
  skipNonDistributable?: boolean;
  /** Largest JSON document read, default 4 MiB. */
  maxJSONBytes?: number;
  /** Aborts the export (the stream errors). */
  signal?: AbortSignal;
}

/** One entry of the tar. */
interface TarRecord {
  header: Partial<Header> & Pick<Header, "name" | "size">;
  /** Bytes of a small file. */
  bytes?: Uint8Array;
  /** A blob to copy from content. */
  blob?: Descriptor;
}

interface DockerEntry {
  manifest: ImageDescriptor;
  names: string[];
}

const encoder = new TextEncoder();
const EPOCH = new Date(0);

function fileRecord(name: string, bytes: Uint8Array, mode: number): TarRecord {
  return {
    header: { name, mode, size: bytes.byteLength, type: "file", mtime: EPOCH },
    bytes,
  };
}

function directoryRecord(name: string): TarRecord {
  return {
    header: { name, mode: 0o755, size: 0, type: "directory", mtime: EPOCH },
  };
}

function blobPath(digest: string): string {
  validateImageDigest(digest, "export");
  const [algorithm, encoded] = digest.split(":");
  return `blobs/${algorithm}/${encoded}`;
}

function withName(
  target: ImageDescriptor,
  name: string,
): ImageDescriptor {
  const annotations: Record<string, string> = {
    ...target.annotations,
    [ANNOTATION_IMAGE_NAME]: name,
  };
  const short = ociReferenceName(name);
  if (short) annotations[ANNOTATION_REF_NAME] = short;
  else delete annotations[ANNOTATION_REF_NAME];
  return { ...target, annotations };
}

/**
 * Plans the archive (reading manifests and indexes, so a missing blob or
 * an unmatched platform fails here), then returns the tar as a stream.
 *
 * @throws {BerthError} NotFound for a missing blob or when no manifest of
 * an index matches `platform`; InvalidArgument for a target that is not a
 * manifest or index.
 */
export async function exportArchive(
  options: ExportOptions,
): Promise<ReadableStream<Uint8Array>> {
  const { content, platform } = options;
  const readOptions = {
    maxBytes: options.maxJSONBytes ?? DEFAULT_MAX_JSON_BYTES,
  };
  const targets: ImageDescriptor[] = [];
  for (const image of options.images) {
    if (!image.names?.length) targets.push(image.target);
    for (const name of image.names ?? []) {
      targets.push(withName(image.target, name));
    }
  }

  const records: TarRecord[] = [
    fileRecord(
      OCI_LAYOUT_FILE,
      encoder.encode(
        JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }),
      ),
      0o444,
    ),
    fileRecord(
      "index.json",
      encoder.encode(JSON.stringify({
        schemaVersion: 2,
        manifests: targets.map(descriptorToJSON),
      })),
      0o644,
    ),
  ];
  const algorithms = new Set<string>();
  const blobRecord = (desc: Descriptor) => {
    const name = blobPath(desc.digest);
    algorithms.add(desc.digest.split(":")[0]);
    if (options.skipNonDistributable && isNonDistributable(desc.mediaType)) {
      return;
    }
    records.push({
      header: {
        name,
        mode: 0o444,
        size: desc.size,
        type: "file",
        mtime: EPOCH,
      },
      blob: desc,
    });
  };
  const addGraph = async (root: ImageDescriptor) => {
    for await (const step of walk(content, [root], readOptions)) {
      blobRecord(step.descriptor);
    }
  };

  const docker = new Map<string, DockerEntry>();
  const resolvedIndex = new Map<string, string>();
  for (const desc of targets) {
    if (options.signal?.aborted) {
      throw new BerthError(Code.Canceled, "export", {
        cause: options.signal.reason,
      });
    }
    const name = desc.annotations?.[ANNOTATION_IMAGE_NAME];
    if (isManifest(desc.mediaType)) {
      let entry = docker.get(desc.digest);
      if (!entry) {
        await addGraph(desc);
        entry = { manifest: desc, names: [] };
        docker.set(desc.digest, entry);
      }
      if (name && !options.skipDockerManifest) entry.names.push(name);
    } else if (isIndex(desc.mediaType)) {
      let chosen = resolvedIndex.get(desc.digest);
      if (chosen === undefined) {
        blobRecord(desc);
        const index = await readIndex(content, desc, readOptions);
        let matching: ImageDescriptor[] = [];
        for (const m of index.manifests) {
          if (platform) {
            if (!m.platform || platform.match(m.platform)) matching.push(m);
            else if (!options.allPlatforms) continue;
          }
          await addGraph(m);
        }
        chosen = "";
        if (!options.skipDockerManifest) {
          matching = matching.filter((m) => isManifest(m.mediaType));
          if (matching.length > 0) {
            matching = stableSort(matching, (a, b) => {
              if (!a.platform) return false;
              if (!b.platform) return true;
              return platform!.less(a.platform, b.platform);
            });
            chosen = matching[0].digest;
            if (!docker.has(chosen)) {
              docker.set(chosen, { manifest: matching[0], names: [] });
            }
          } else if (platform) {
            throw notFound("no manifest found for platform");
          }
        }
        resolvedIndex.set(desc.digest, chosen);
      }
      if (chosen && name) docker.get(chosen)!.names.push(name);
    } else {
      throw invalidArgument(
        `only manifests may be exported, not ${desc.mediaType}`,
      );
    }
  }

  if (docker.size > 0) {
    const entries = [];
    for (const { manifest: desc, names } of docker.values()) {
      const manifest = await readManifest(content, desc, readOptions);
      entries.push({
        Config: blobPath(manifest.config.digest),
        RepoTags: names.length
          ? names.map((name) => familiarString(parseReference(name)))
          : null,
        Layers: manifest.layers.map((layer) => blobPath(layer.digest)),
      });
    }
    records.push(
      fileRecord(
        "manifest.json",
        encoder.encode(JSON.stringify(entries)),
        0o644,
      ),
    );
  }
  if (algorithms.size > 0) {
    records.push(directoryRecord("blobs/"));
    for (const algorithm of algorithms) {
      records.push(directoryRecord(`blobs/${algorithm}/`));
    }
  }

  records.sort((a, b) =>
    a.header.name < b.header.name ? -1 : a.header.name > b.header.name ? 1 : 0
  );
  const unique = records.filter((record, i) =>
    i === 0 || record.header.name !== records[i - 1].header.name
  );
  return writeTar(content, unique, options.signal);
}

/** Streams `records` as a tar, copying blobs from content. */
function writeTar(
  content: Pick<ImageContent, "read">,
  records: readonly TarRecord[],
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const pack = tarPack();
  const writing = (async () => {
    for (const record of records) {
      if (signal?.aborted) {
        throw new BerthError(Code.Canceled, "export", { cause: signal.reason });
      }
      const done = new Promise<void>((resolve, reject) => {
        const sink = pack.entry(record.header, (err) => {
          if (err) reject(err);
          else resolve();
        });
        // Failures are reported through `reject`; an unheard "error" event
        // would be thrown.
        sink.on("error", () => {});
        (async () => {
          if (record.bytes) {
            await write(sink, record.bytes);
          } else if (record.blob) {
            await copyBlob(content, record.blob, sink);
          }
          (sink as unknown as { end(): void }).end();
        })().catch((err) => {
          sink.destroy(err);
          reject(err);
        });
      });
      await done;
    }
    pack.finalize();
  })();
  writing.catch((err) => pack.destroy(err));
  return ReadableStream.from(pack as AsyncIterable<Uint8Array>);
}

type Sink = ReturnType<ReturnType<typeof tarPack>["entry"]>;

function write(sink: Sink, chunk: Uint8Array): Promise<void> {
  if (sink.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      sink.off("drain", onDrain);
      sink.off("close", onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error("tar entry closed"));
    };
    sink.on("drain", onDrain);
    sink.on("close", onClose);
  });
}

async function copyBlob(
  content: Pick<ImageContent, "read">,
  desc: Descriptor,
  sink: Sink,
): Promise<void> {
  const hash = createHash(desc.digest.split(":")[0]);
  let size = 0;
  for await (const chunk of await content.read(desc.digest)) {
    size += chunk.byteLength;
    if (size > desc.size) break;
    hash.update(chunk);
    await write(sink, chunk);
  }
  const digest = `${desc.digest.split(":")[0]}:${hash.digest("hex")}`;
  if (size !== desc.size || digest !== desc.digest) {
    throw new BerthError(
      Code.DataLoss,
      `export: blob ${desc.digest}: unexpected content (${
        size > desc.size ? `over ${desc.size}` : size
      } bytes, digest ${digest})`,
    );
  }
}
