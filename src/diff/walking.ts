/**
 * The walking differ: applies layers onto mounts and compares two mounts
 * into a layer, by mounting them in temporary directories and walking the
 * trees (the same approach as containerd's default differ).
 *
 * It reads and writes blobs through {@linkcode DiffContent}, a narrow view
 * of a content store, so it does not depend on how content is kept.
 *
 * @module
 */
import {
  digestingStream,
  gzipStream,
  LayerMediaType,
  mediaTypeCompression,
  writeDiff,
} from "../archive/mod.ts";
import { withReadonlyTempMount } from "../mount/mod.ts";
import { runApplyJob } from "./_apply_job.ts";
import { ApplyThread } from "./_apply_thread.ts";
import {
  crashPoint,
  type Descriptor,
  type Mount,
  unimplemented,
} from "../types/mod.ts";

/** The label naming a compressed layer's uncompressed digest (diffID). */
export const LABEL_UNCOMPRESSED = "containerd.io/uncompressed";

/** What the differ needs of a content store, in one namespace. */
export interface DiffContent {
  /** Streams a blob's bytes. */
  read(digest: string): AsyncIterable<Uint8Array>;
  /** A blob's labels. */
  labels(digest: string): Record<string, string>;
  /**
   * Stores a stream under `ref`; returns digest and size. `labels` are
   * awaited after the last byte, before the commit (some are known only
   * then).
   */
  write(
    ref: string,
    stream: ReadableStream<Uint8Array>,
    labels: Promise<Record<string, string>>,
  ): Promise<{ digest: string; size: number }>;
}

/** Options of {@linkcode WalkingDiffer.apply}. */
export interface ApplyOptions {
  /** Stops the application. */
  signal?: AbortSignal;
  /**
   * The layer's bytes, when they come from elsewhere than the content
   * store (a download in progress); default: read from `content`.
   */
  source?: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;
}

/** Options of {@linkcode WalkingDiffer.compare}. */
export interface CompareOptions {
  /** Media type of the layer to make (default: tar+gzip). */
  mediaType?: string;
  /** Ingest ref for the new blob (default: a unique one). */
  ref?: string;
  /** Labels of the new blob. */
  labels?: Record<string, string>;
}

/** Options for {@linkcode WalkingDiffer}. */
export interface WalkingDifferOptions {
  /** Where temporary mount points go (default `$TMPDIR` or `/tmp`). */
  tempRoot?: string;
  /** gzip level of produced layers. */
  gzipLevel?: number;
  /**
   * Apply layers in a worker thread, so that a pull downloads and unpacks
   * on two cores (default false: in the calling thread).
   */
  worker?: boolean;
}

/** Applies and produces layers over mounts. */
export class WalkingDiffer {
  readonly #options: WalkingDifferOptions;
  readonly #thread: ApplyThread | undefined;

  /** Creates the differ. */
  constructor(options: WalkingDifferOptions = {}) {
    this.#options = options;
    this.#thread = options.worker ? new ApplyThread() : undefined;
  }

  /** Stops the worker thread, if any. */
  close(): void {
    this.#thread?.close();
  }

  /**
   * Applies the layer `layer` onto `mounts`; returns the applied layer's
   * uncompressed descriptor. When the blob is labelled (or annotated) with
   * its uncompressed digest, a mismatch is FailedPrecondition.
   */
  async apply(
    content: Pick<DiffContent, "read" | "labels">,
    layer: Descriptor,
    mounts: readonly Mount[],
    options: ApplyOptions = {},
  ): Promise<Descriptor> {
    mediaTypeCompression(layer.mediaType);
    const expected = layer.annotations?.[LABEL_UNCOMPRESSED] ??
      (options.source
        ? undefined
        : content.labels(layer.digest)[LABEL_UNCOMPRESSED]);
    const job = {
      mounts,
      mediaType: layer.mediaType,
      expectedDigest: expected,
      tempRoot: this.#options.tempRoot,
    };
    const source = options.source ?? content.read(layer.digest);
    const result = this.#thread
      ? await this.#thread.apply(job, source, options.signal)
      : await runApplyJob(job, source, options.signal);
    crashPoint("unpack-commit");
    return {
      mediaType: LayerMediaType.OCI,
      digest: result.digest,
      size: result.size,
    };
  }

  /**
   * Compares `lower` with `upper` and stores the difference as a layer;
   * returns its descriptor. The blob is labelled with its uncompressed
   * digest when compressed.
   */
  async compare(
    content: DiffContent,
    lower: readonly Mount[],
    upper: readonly Mount[],
    options: CompareOptions = {},
  ): Promise<Descriptor> {
    const mediaType = options.mediaType || LayerMediaType.OCI_GZIP;
    const compression = mediaTypeCompression(mediaType);
    if (compression === "zstd") {
      throw unimplemented(`unsupported diff media type: ${mediaType}`);
    }
    const ref = options.ref || `diff-${crypto.randomUUID()}`;
    const tempRoot = { root: this.#options.tempRoot };
    return await withReadonlyTempMount(upper, (upperRoot) => {
      const diff = (lowerRoot: string | null) => {
        const tar = digestingStream(writeDiff(lowerRoot, upperRoot));
        return compression === "none"
          ? this.#store(content, ref, mediaType, tar.stream, options.labels)
          : this.#storeCompressed(content, ref, mediaType, tar, options.labels);
      };
      return lower.length === 0
        ? diff(null)
        : withReadonlyTempMount(lower, diff, tempRoot);
    }, tempRoot);
  }

  async #store(
    content: DiffContent,
    ref: string,
    mediaType: string,
    stream: ReadableStream<Uint8Array>,
    labels: Record<string, string> = {},
  ): Promise<Descriptor> {
    const stored = await content.write(ref, stream, Promise.resolve(labels));
    return { mediaType, digest: stored.digest, size: stored.size };
  }

  async #storeCompressed(
    content: DiffContent,
    ref: string,
    mediaType: string,
    tar: ReturnType<typeof digestingStream>,
    labels: Record<string, string> = {},
  ): Promise<Descriptor> {
    const blob = gzipStream(tar.stream, { level: this.#options.gzipLevel });
    // The diffID is known once the tar has been read to its end.
    const labelled = tar.result.then(({ digest }) => ({
      ...labels,
      [LABEL_UNCOMPRESSED]: digest,
    }));
    const stored = await content.write(ref, blob, labelled);
    return { mediaType, digest: stored.digest, size: stored.size };
  }
}
