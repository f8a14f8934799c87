/**
 * Test helpers: in-memory fakes of the interfaces image logic depends on
 * (a Map-backed content store, a snapshotter that records its calls, an
 * applier that gunzips and digests), and builders of images in them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  alreadyExists,
  BerthError,
  Code,
  type Descriptor,
  failedPrecondition,
  invalidArgument,
  type Mount,
  notFound,
  OCI,
  type Platform,
} from "../types/mod.ts";
import type { BlobInfo, BlobWriteOptions, ImageContent } from "./content.ts";
import { descriptorToJSON, type ImageDescriptor } from "./manifest.ts";
import type {
  ImageSnapshotOptions,
  ImageSnapshots,
  LayerApplier,
  LayerApplyOptions,
} from "./unpack.ts";

/** sha256 digest of `bytes`. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** UTF-8 bytes of `value` as JSON. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** All of an iterable's bytes. */
export async function readAll(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

interface StoredBlob {
  bytes: Uint8Array;
  labels: Record<string, string>;
}

/** A content store in a Map, strict like the real one. */
export class MemoryContent implements ImageContent {
  /** The blobs by digest. */
  readonly blobs = new Map<string, StoredBlob>();
  /** Refs written, in order. */
  readonly refs: string[] = [];
  /** Reads, by digest, in order. */
  readonly reads: string[] = [];

  /** Adds a blob directly; returns its descriptor. */
  add(
    bytes: Uint8Array,
    mediaType = "application/octet-stream",
    labels: Record<string, string> = {},
  ): Descriptor {
    const digest = sha256(bytes);
    this.blobs.set(digest, { bytes, labels: { ...labels } });
    return { mediaType, digest, size: bytes.byteLength };
  }

  /** Adds `value` as a JSON blob. */
  addJSON(value: unknown, mediaType: string): Descriptor {
    return this.add(jsonBytes(value), mediaType);
  }

  /** A blob's labels (empty when absent). */
  labels(digest: string): Record<string, string> {
    return this.blobs.get(digest)?.labels ?? {};
  }

  /** The blob's info, or NotFound. */
  info(digest: string): BlobInfo {
    const blob = this.blobs.get(digest);
    if (!blob) throw notFound(`content ${digest}`);
    return { digest, size: blob.bytes.byteLength, labels: { ...blob.labels } };
  }

  /** The blob's bytes in chunks of at most 1000 bytes. */
  async *read(digest: string): AsyncGenerator<Uint8Array> {
    this.reads.push(digest);
    const blob = this.blobs.get(digest);
    if (!blob) throw notFound(`content ${digest}`);
    for (let i = 0; i < blob.bytes.byteLength; i += 1000) {
      await Promise.resolve();
      yield blob.bytes.subarray(i, i + 1000);
    }
  }

  /** Stores the stream, verified; AlreadyExists for a stored `expected`. */
  async write(
    ref: string,
    stream: ReadableStream<Uint8Array>,
    options: BlobWriteOptions,
  ): Promise<{ digest: string; size: number }> {
    this.refs.push(ref);
    if (options.expected && this.blobs.has(options.expected)) {
      throw alreadyExists(`content ${options.expected}`);
    }
    const bytes = await readAll(stream);
    const digest = sha256(bytes);
    if (options.size !== undefined && options.size !== bytes.byteLength) {
      throw failedPrecondition(
        `unexpected commit size ${bytes.byteLength}, expected ${options.size}`,
      );
    }
    if (options.expected && options.expected !== digest) {
      throw failedPrecondition(
        `unexpected commit digest ${digest}, expected ${options.expected}`,
      );
    }
    if (this.blobs.has(digest)) throw alreadyExists(`content ${digest}`);
    this.blobs.set(digest, { bytes, labels: { ...options.labels } });
    return { digest, size: bytes.byteLength };
  }

  /** Sets labels; empty values remove. */
  updateLabels(digest: string, labels: Record<string, string>): void {
    const blob = this.blobs.get(digest);
    if (!blob) throw notFound(`content ${digest}`);
    for (const [key, value] of Object.entries(labels)) {
      if (value) blob.labels[key] = value;
      else delete blob.labels[key];
    }
  }
}

/** A snapshot of {@linkcode FakeSnapshots}. */
export interface FakeSnapshot {
  /** `active` or `committed`. */
  kind: "active" | "committed";
  /** Parent name, empty for none. */
  parent: string;
  /** Labels. */
  labels: Record<string, string>;
}

/** A snapshotter in a Map that records every call. */
export class FakeSnapshots implements ImageSnapshots {
  /** Snapshots by key or name. */
  readonly snapshots = new Map<string, FakeSnapshot>();
  /** Calls, as `method key [parent/name]`. */
  readonly calls: string[] = [];
  /** Fails the next `prepare` calls with AlreadyExists. */
  prepareCollisions = 0;

  /** Resolves for an existing key; NotFound otherwise. */
  stat(key: string): FakeSnapshot {
    this.calls.push(`stat ${key}`);
    const snapshot = this.snapshots.get(key);
    if (!snapshot) throw notFound(`snapshot ${key}`);
    return snapshot;
  }

  /** An active snapshot on a committed parent. */
  prepare(
    key: string,
    parent: string,
    options: ImageSnapshotOptions,
  ): Mount[] {
    this.calls.push(`prepare ${key} ${parent}`);
    if (this.prepareCollisions > 0) {
      this.prepareCollisions--;
      throw alreadyExists(`snapshot ${key}`);
    }
    if (this.snapshots.has(key)) throw alreadyExists(`snapshot ${key}`);
    if (parent && this.snapshots.get(parent)?.kind !== "committed") {
      throw notFound(`parent snapshot ${parent}`);
    }
    this.snapshots.set(key, {
      kind: "active",
      parent,
      labels: { ...options.labels },
    });
    return [{ type: "bind", source: `/fake/${key}`, options: ["rbind"] }];
  }

  /** Commits active `key` as `name`. */
  commit(name: string, key: string, options: ImageSnapshotOptions): void {
    this.calls.push(`commit ${key} ${name}`);
    const active = this.snapshots.get(key);
    if (!active || active.kind !== "active") {
      throw notFound(`snapshot ${key}`);
    }
    if (this.snapshots.has(name)) throw alreadyExists(`snapshot ${name}`);
    this.snapshots.delete(key);
    this.snapshots.set(name, {
      kind: "committed",
      parent: active.parent,
      labels: { ...active.labels, ...options.labels },
    });
  }

  /** Removes `key`. */
  remove(key: string): void {
    this.calls.push(`remove ${key}`);
    if (!this.snapshots.delete(key)) throw notFound(`snapshot ${key}`);
  }
}

/**
 * An applier that digests the layer's uncompressed bytes (gunzipping gzip)
 * as the diffID, from the source when given, else from content.
 */
export class FakeApplier implements LayerApplier {
  /** Applied layers: digest and the mounts' source. */
  readonly applied: { digest: string; mount: string; streamed: boolean }[] = [];
  /** Layer digests whose application fails. */
  readonly failing = new Set<string>();
  /** Layer digests whose result is reported wrong. */
  readonly corrupting = new Set<string>();

  /** Creates it over `content`. */
  constructor(readonly content: MemoryContent) {}

  /** Reads, gunzips and digests the layer. */
  async apply(
    layer: Descriptor,
    mounts: readonly Mount[],
    options: LayerApplyOptions,
  ): Promise<Descriptor> {
    if (this.failing.has(layer.digest)) {
      throw invalidArgument(`layer ${layer.digest}: broken tar`);
    }
    const bytes = await readAll(
      options.source ?? this.content.read(layer.digest),
    );
    const tar = bytes[0] === 0x1f && bytes[1] === 0x8b
      ? new Uint8Array(gunzipSync(bytes))
      : bytes;
    this.applied.push({
      digest: layer.digest,
      mount: mounts[0].source,
      streamed: options.source !== undefined,
    });
    const digest = this.corrupting.has(layer.digest)
      ? sha256("corrupt")
      : sha256(tar);
    return { mediaType: OCI.LAYER, digest, size: tar.byteLength };
  }
}

/** An image built by {@linkcode buildImage}. */
export interface BuiltImage {
  /** The manifest. */
  manifest: ImageDescriptor;
  /** The config. */
  config: Descriptor;
  /** The layers (gzip unless asked otherwise). */
  layers: Descriptor[];
  /** Their diffIDs. */
  diffIDs: string[];
  /** The uncompressed layer bytes. */
  tars: Uint8Array[];
}

/** Options of {@linkcode buildImage}. */
export interface BuildImageOptions {
  /** Layer contents (uncompressed; stand-ins for tars). */
  layers?: readonly string[];
  /** The config's platform (default linux/amd64). */
  platform?: Platform;
  /** Store layers uncompressed. */
  uncompressed?: boolean;
  /** Docker media types instead of OCI. */
  docker?: boolean;
  /** Do not store the layer blobs. */
  withoutLayers?: boolean;
}

/** Stores a config, layers and manifest in `content`. */
export function buildImage(
  content: MemoryContent,
  options: BuildImageOptions = {},
): BuiltImage {
  const platform = options.platform ??
    { os: "linux", architecture: "amd64" };
  const tars = (options.layers ?? ["layer one", "layer two"]).map((text) =>
    new TextEncoder().encode(`${text} of ${platform.architecture}`)
  );
  const docker = options.docker ?? false;
  const layers = tars.map((tar) => {
    const bytes = options.uncompressed ? tar : new Uint8Array(gzipSync(tar));
    const mediaType = options.uncompressed
      ? (docker ? "application/vnd.docker.image.rootfs.diff.tar" : OCI.LAYER)
      : (docker
        ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
        : OCI.LAYER_GZIP);
    if (options.withoutLayers) {
      return { mediaType, digest: sha256(bytes), size: bytes.byteLength };
    }
    return content.add(bytes, mediaType);
  });
  const diffIDs = tars.map((tar) => sha256(tar));
  const config = content.addJSON({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    rootfs: { type: "layers", diff_ids: diffIDs },
    config: { Cmd: ["/bin/sh"] },
  }, docker ? "application/vnd.docker.container.image.v1+json" : OCI.CONFIG);
  const manifestType = docker
    ? "application/vnd.docker.distribution.manifest.v2+json"
    : OCI.MANIFEST;
  const manifest = content.addJSON({
    schemaVersion: 2,
    mediaType: manifestType,
    config: descriptorToJSON(config),
    layers: layers.map(descriptorToJSON),
  }, manifestType);
  return { manifest, config, layers, diffIDs, tars };
}

/** Stores an index of `manifests`; returns its descriptor. */
export function buildIndex(
  content: MemoryContent,
  manifests: readonly ImageDescriptor[],
  mediaType: string = OCI.INDEX,
): ImageDescriptor {
  return content.addJSON({
    schemaVersion: 2,
    mediaType,
    manifests: manifests.map(descriptorToJSON),
  }, mediaType);
}

/** Expects `fn` to reject with a {@linkcode BerthError} of `code`. */
export async function rejectsWith(
  fn: () => Promise<unknown>,
  code: Code,
  message?: RegExp,
): Promise<BerthError> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof BerthError)) throw err;
    if (err.code !== code) {
      throw new Error(
        `expected code ${Code[code]}, got ${Code[err.code]}: ${err.message}`,
      );
    }
    if (message && !message.test(err.message)) {
      throw new Error(`message ${JSON.stringify(err.message)} !~ ${message}`);
    }
    return err;
  }
  throw new Error(`expected a ${Code[code]} error, got none`);
}
