/**
 * Unpacking an image into a snapshotter, the way containerd's client does
 * it, so that snapshots made by `ctr images pull` and by berth are the same
 * and shared:
 *
 * - the layers' diffIDs come from the config's `rootfs.diff_ids`, and each
 *   layer's snapshot is named by its chain ID;
 * - a layer whose chain ID snapshot exists is skipped; otherwise an active
 *   snapshot `extract-<unique> <chainID>` is prepared on the parent chain
 *   ID (labelled `containerd.io/snapshot.ref=<chainID>`), the layer applied
 *   onto its mounts, the result checked against the diffID, and the
 *   snapshot committed as the chain ID;
 * - applied layer blobs get `containerd.io/uncompressed=<diffID>`, the
 *   config `containerd.io/gc.ref.snapshot.<snapshotter>=<top chainID>`.
 *
 * {@linkcode unpackLayers} does the snapshot part alone, and takes each
 * layer's bytes from a source the caller gives, so a pull can apply a layer
 * as soon as it is downloaded. It depends on {@linkcode ImageSnapshots} and
 * {@linkcode LayerApplier}, narrow views the daemon binds to a snapshotter
 * in one namespace and to its differ.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { KeyedMutex } from "./_keyed_mutex.ts";
import {
  BerthError,
  Code,
  type Descriptor,
  failedPrecondition,
  invalidArgument,
  type Mount,
  type PlatformMatcher,
} from "../types/mod.ts";
import type { ImageContent } from "./content.ts";
import { chainIDs } from "./identity.ts";
import {
  type ImageDescriptor,
  manifestFor,
  readConfig,
  type ReadJSONOptions,
} from "./manifest.ts";
import {
  INHERITED_LABEL_PREFIX,
  LABEL_GC_REF_SNAPSHOT,
  LABEL_SNAPSHOT_REF,
  LABEL_UNCOMPRESSED,
} from "./labels.ts";
import { isLayer } from "./mediatypes.ts";

/** Options of snapshot creation and commit. */
export interface ImageSnapshotOptions {
  /** Labels of the snapshot. */
  labels?: Record<string, string>;
}

/** A narrow view of one snapshotter in one namespace. */
export interface ImageSnapshots {
  /** Resolves when snapshot `key` exists; throws NotFound otherwise. */
  stat(key: string): unknown;
  /**
   * Creates active snapshot `key` on `parent` (empty: none); returns its
   * mounts. Throws AlreadyExists when `key` exists, NotFound when `parent`
   * does not.
   */
  prepare(
    key: string,
    parent: string,
    options: ImageSnapshotOptions,
  ): Mount[] | Promise<Mount[]>;
  /** Commits active `key` as `name`; AlreadyExists when `name` exists. */
  commit(
    name: string,
    key: string,
    options: ImageSnapshotOptions,
  ): unknown;
  /** Removes snapshot `key`. */
  remove(key: string): unknown;
}

/** A layer's bytes: a stream, or an iterable of chunks. */
export type LayerSource =
  | AsyncIterable<Uint8Array>
  | ReadableStream<Uint8Array>;

/** Options of {@linkcode LayerApplier.apply}. */
export interface LayerApplyOptions {
  /**
   * The layer's (compressed) bytes; absent: read the blob `layer.digest`
   * from content.
   */
  source?: LayerSource;
  /** Aborts the application. */
  signal?: AbortSignal;
}

/** Applies a layer onto mounts (the differ). */
export interface LayerApplier {
  /**
   * Applies `layer` onto `mounts`; returns the descriptor of the applied,
   * uncompressed tar (its digest is the diffID).
   */
  apply(
    layer: Descriptor,
    mounts: readonly Mount[],
    options: LayerApplyOptions,
  ): Promise<Descriptor>;
}

/**
 * Where each layer's bytes come from: one entry per layer (a source, a
 * promise of one, or nothing for "read from content"), or a function asked
 * for layer `index` only when it is about to be applied. Sources of layers
 * that are skipped (their snapshot exists) are cancelled.
 */
export type LayerSources =
  | readonly (LayerSource | Promise<LayerSource | undefined> | undefined)[]
  | ((
    index: number,
    layer: Descriptor,
  ) => LayerSource | undefined | Promise<LayerSource | undefined>);

/** What happened to one layer. */
export interface UnpackedLayer {
  /** The layer's blob. */
  layer: Descriptor;
  /** Its diffID. */
  diffID: string;
  /** The chain ID of the stack up to it: its snapshot's name. */
  chainID: string;
  /** True when this unpack applied it (false: the snapshot existed). */
  applied: boolean;
}

/** The result of {@linkcode unpackLayers}. */
export interface UnpackLayersResult {
  /** The top chain ID: the snapshot a container's rootfs is prepared on. */
  chainID: string;
  /** Every layer, base first. */
  layers: UnpackedLayer[];
}

/** Options of {@linkcode unpackLayers}. */
export interface UnpackLayersOptions {
  /** The snapshotter to unpack into. */
  snapshots: ImageSnapshots;
  /** The differ that applies layers. */
  applier: LayerApplier;
  /** The layers, base first. */
  layers: readonly Descriptor[];
  /** Their diffIDs, from the config. */
  diffIDs: readonly string[];
  /** Where the layers' bytes come from (default: content, via the applier). */
  sources?: LayerSources;
  /**
   * The snapshotter's name: concurrent unpacks in this process that share it
   * and a chain ID extract it once.
   */
  snapshotter?: string;
  /** Aborts between and during layers. */
  signal?: AbortSignal;
  /** Told about each layer when it is done. */
  onLayer?: (layer: UnpackedLayer, index: number) => void;
}

const locks = new KeyedMutex();

/** How many times a colliding extraction key is tried again. */
const PREPARE_ATTEMPTS = 3;

/** A key part unique enough for extraction snapshots: `<ns>-<base64>`. */
function uniquePart(): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  const nanos = (Date.now() % 1000) * 1_000_000 +
    Math.floor(performance.now() * 1000) % 1_000_000;
  return `${nanos}-${Buffer.from(random).toString("base64url")}`;
}

/** The key of the active snapshot a layer is extracted into. */
export function extractionKey(chainID: string): string {
  return `extract-${uniquePart()} ${chainID}`;
}

/**
 * The labels a layer's snapshot gets: the layer's annotations under
 * `containerd.io/snapshot/` (and `containerd.io/snapshot.ref`), then
 * `containerd.io/snapshot.ref=<chainID>`.
 */
export function snapshotLabels(
  layer: Descriptor,
  chainID: string,
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(layer.annotations ?? {})) {
    if (key === LABEL_SNAPSHOT_REF || key.startsWith(INHERITED_LABEL_PREFIX)) {
      labels[key] = value;
    }
  }
  labels[LABEL_SNAPSHOT_REF] = chainID;
  return labels;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new BerthError(Code.Canceled, "unpack", { cause: signal.reason });
  }
}

/** `err` with `prefix: ` before its message, its code kept. */
function wrapError(err: unknown, prefix: string): unknown {
  if (err instanceof BerthError) {
    const wrapped = new BerthError(err.code, "", { cause: err });
    wrapped.message = `${prefix}: ${err.message}`;
    return wrapped;
  }
  if (err instanceof Error) {
    return new BerthError(Code.Unknown, `${prefix}: ${err.message}`, {
      cause: err,
    });
  }
  return err;
}

async function cancelSource(source: unknown): Promise<void> {
  try {
    const resolved = await source;
    if (resolved instanceof ReadableStream) {
      if (!resolved.locked) await resolved.cancel();
    } else if (
      resolved && typeof resolved === "object" &&
      Symbol.asyncIterator in resolved
    ) {
      await (resolved as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
        .return?.();
    }
  } catch {
    // A source that failed needs no cancelling.
  }
}

async function isPresent(
  snapshots: ImageSnapshots,
  key: string,
): Promise<boolean> {
  try {
    await snapshots.stat(key);
    return true;
  } catch (err) {
    if (BerthError.is(err, Code.NotFound)) return false;
    throw wrapError(err, `failed to stat snapshot ${key}`);
  }
}

/**
 * Unpacks `layers` into snapshots named by their chain IDs, base first,
 * skipping those that exist. Each layer's extraction snapshot is removed on
 * failure; a layer whose result is not its diffID fails FailedPrecondition.
 */
export async function unpackLayers(
  options: UnpackLayersOptions,
): Promise<UnpackLayersResult> {
  const { snapshots, applier, layers, diffIDs, signal } = options;
  if (layers.length !== diffIDs.length) {
    throw invalidArgument(
      `number of layers and diffIDs don't match: ${layers.length} != ${diffIDs.length}`,
    );
  }
  for (const layer of layers) {
    if (!isLayer(layer.mediaType)) {
      throw new BerthError(
        Code.Unimplemented,
        `layer ${layer.digest}: unsupported layer media type ${layer.mediaType}`,
      );
    }
  }
  const chain = chainIDs(diffIDs);
  const sources = options.sources;
  const sourceFor = (i: number) =>
    typeof sources === "function" ? sources(i, layers[i]) : sources?.[i];
  const results: UnpackedLayer[] = [];
  let i = 0;
  try {
    for (; i < layers.length; i++) {
      checkAborted(signal);
      const layer = layers[i];
      const chainID = chain[i];
      const parent = i === 0 ? "" : chain[i - 1];
      const lockKey = `sn://${options.snapshotter ?? ""}/${chainID}`;
      const applied = await locks.with(lockKey, () =>
        unpackOne({
          snapshots,
          applier,
          layer,
          diffID: diffIDs[i],
          chainID,
          parent,
          source: () => sourceFor(i),
          skipped: () =>
            typeof sources === "function"
              ? Promise.resolve()
              : cancelSource(sources?.[i]),
          signal,
        }));
      const result = { layer, diffID: diffIDs[i], chainID, applied };
      results.push(result);
      options.onLayer?.(result, i);
    }
  } catch (err) {
    // Release the sources nobody will read.
    if (Array.isArray(sources)) {
      await Promise.all(sources.slice(i + 1).map(cancelSource));
    }
    throw err;
  }
  return { chainID: chain.at(-1) ?? "", layers: results };
}

interface UnpackOne {
  snapshots: ImageSnapshots;
  applier: LayerApplier;
  layer: Descriptor;
  diffID: string;
  chainID: string;
  parent: string;
  source: () => LayerSource | undefined | Promise<LayerSource | undefined>;
  skipped: () => Promise<void>;
  signal?: AbortSignal;
}

/** One layer; true when it was applied and committed here. */
async function unpackOne(step: UnpackOne): Promise<boolean> {
  const { snapshots, layer, chainID } = step;
  if (await isPresent(snapshots, chainID)) {
    await step.skipped();
    return false;
  }
  const labels = snapshotLabels(layer, chainID);
  let key = "";
  let mounts: Mount[] | undefined;
  let lastError: unknown;
  for (let attempt = 1; attempt <= PREPARE_ATTEMPTS; attempt++) {
    key = extractionKey(chainID);
    try {
      mounts = await snapshots.prepare(key, step.parent, { labels });
      break;
    } catch (err) {
      if (!BerthError.is(err, Code.AlreadyExists)) {
        await step.skipped();
        throw wrapError(err, `failed to prepare extraction snapshot "${key}"`);
      }
      // Someone may have finished the same layer meanwhile.
      if (await isPresent(snapshots, chainID)) {
        await step.skipped();
        return false;
      }
      lastError = err;
    }
  }
  if (!mounts) {
    await step.skipped();
    throw wrapError(lastError, "unable to prepare extraction snapshot");
  }

  const abort = async () => {
    try {
      await snapshots.remove(key);
    } catch {
      // Best effort: the garbage collector removes what is left.
    }
  };

  let diff: Descriptor;
  try {
    checkAborted(step.signal);
    const source = await step.source();
    diff = await step.applier.apply(layer, mounts, {
      source,
      signal: step.signal,
    });
  } catch (err) {
    await abort();
    throw wrapError(err, `failed to extract layer ${step.diffID}`);
  }
  if (diff.digest !== step.diffID) {
    await abort();
    throw failedPrecondition(
      `wrong diff id calculated on extraction "${step.diffID}": got ${diff.digest}`,
    );
  }
  try {
    await snapshots.commit(chainID, key, { labels });
  } catch (err) {
    await abort();
    if (BerthError.is(err, Code.AlreadyExists)) return false;
    throw wrapError(err, `failed to commit snapshot ${key}`);
  }
  return true;
}

/** Options of {@linkcode labelUnpacked}. */
export interface LabelUnpackedOptions {
  /** The image's config blob. */
  config: Descriptor;
  /** The snapshotter's name. */
  snapshotter: string;
  /** What {@linkcode unpackLayers} returned. */
  result: UnpackLayersResult;
}

/**
 * Labels what an unpack made: each applied layer blob with its diffID
 * (`containerd.io/uncompressed`), then the config with the top snapshot
 * (`containerd.io/gc.ref.snapshot.<snapshotter>`), which keeps the
 * snapshots from garbage collection as long as the config stays.
 */
export async function labelUnpacked(
  content: Pick<ImageContent, "updateLabels">,
  options: LabelUnpackedOptions,
): Promise<void> {
  for (const layer of options.result.layers) {
    if (!layer.applied) continue;
    await content.updateLabels(layer.layer.digest, {
      [LABEL_UNCOMPRESSED]: layer.diffID,
    });
  }
  if (options.result.chainID) {
    await content.updateLabels(options.config.digest, {
      [`${LABEL_GC_REF_SNAPSHOT}${options.snapshotter}`]:
        options.result.chainID,
    });
  }
}

/** Options of {@linkcode unpack}. */
export interface UnpackOptions extends ReadJSONOptions {
  /** Content of the namespace. */
  content: Pick<ImageContent, "info" | "read" | "updateLabels">;
  /** The snapshotter to unpack into. */
  snapshots: ImageSnapshots;
  /** Its name (for the config's GC label). */
  snapshotter: string;
  /** The differ. */
  applier: LayerApplier;
  /** The image's target: a manifest or an index. */
  image: Descriptor;
  /** Which manifest of an index (default: any, the first). */
  platform?: PlatformMatcher;
  /** Where the layers' bytes come from (default: content). */
  sources?: LayerSources;
  /**
   * Resolves when every layer blob is in content (streaming pulls): the
   * labels are set only then.
   */
  blobsCommitted?: Promise<unknown>;
  /** Aborts the unpack. */
  signal?: AbortSignal;
  /** Told about each layer when it is done. */
  onLayer?: (layer: UnpackedLayer, index: number) => void;
}

/** The result of {@linkcode unpack}. */
export interface UnpackResult extends UnpackLayersResult {
  /** The manifest unpacked. */
  manifest: ImageDescriptor;
  /** Its config. */
  config: Descriptor;
}

/**
 * Unpacks the image `image` (its manifest for `platform`) into
 * `snapshots` and labels content as containerd does.
 */
export async function unpack(options: UnpackOptions): Promise<UnpackResult> {
  const { content } = options;
  const { descriptor, manifest } = await manifestFor(
    content,
    options.image,
    options.platform,
    options,
  );
  const config = await readConfig(content, manifest.config, options);
  const result = await unpackLayers({
    snapshots: options.snapshots,
    applier: options.applier,
    layers: manifest.layers,
    diffIDs: config.diffIDs,
    sources: options.sources,
    snapshotter: options.snapshotter,
    signal: options.signal,
    onLayer: options.onLayer,
  });
  await options.blobsCommitted;
  await labelUnpacked(content, {
    config: manifest.config,
    snapshotter: options.snapshotter,
    result,
  });
  return { ...result, manifest: descriptor, config: manifest.config };
}
