/**
 * An image's content graph: index → manifests (those of the wanted
 * platforms) → config and layers. Walking it, labelling parents with the
 * `containerd.io/gc.ref.content.*` labels that keep their children from
 * garbage collection (as containerd labels them while it fetches), and
 * checking which blobs of an image are present (`ctr images check`).
 *
 * @module
 */
import {
  type Descriptor,
  invalidArgument,
  type PlatformMatcher,
} from "../types/mod.ts";
import { type ImageContent, isNotFound, tryInfo } from "./content.ts";
import {
  children as childrenOf,
  type ImageDescriptor,
  manifestFor,
  type ReadJSONOptions,
} from "./manifest.ts";
import { LABEL_GC_REF_CONTENT } from "./labels.ts";
import { isKnownConfig, isLayer, isManifest } from "./mediatypes.ts";

/**
 * The label key prefix a child of type `mediaType` gets: `.config` for a
 * config, `.m.` for a manifest, `.l.` for a layer, `.` for anything else.
 * Keys ending in `.` are always numbered; `.config` only from the second.
 */
export function childLabelPrefix(mediaType: string): string {
  if (isKnownConfig(mediaType)) return `${LABEL_GC_REF_CONTENT}.config`;
  if (isManifest(mediaType)) return `${LABEL_GC_REF_CONTENT}.m.`;
  if (isLayer(mediaType)) return `${LABEL_GC_REF_CONTENT}.l.`;
  return `${LABEL_GC_REF_CONTENT}.`;
}

/**
 * The labels a blob gets for its `children`, numbered per kind in order:
 * `containerd.io/gc.ref.content.m.0`, `….config`, `….l.0`, `….l.1` …
 */
export function childLabels(
  children: readonly Pick<Descriptor, "mediaType" | "digest">[],
): Record<string, string> {
  const counts = new Map<string, number>();
  const labels: Record<string, string> = {};
  for (const child of children) {
    let key = childLabelPrefix(child.mediaType);
    const index = counts.get(key) ?? 0;
    counts.set(key, index + 1);
    if (index > 0 || key.endsWith(".")) key = `${key}${index}`;
    labels[key] = child.digest;
  }
  return labels;
}

/** Sets on `parent` the labels for its `children` (see {@linkcode childLabels}). */
export async function labelChildren(
  content: Pick<ImageContent, "updateLabels">,
  parent: Pick<Descriptor, "digest">,
  children: readonly Pick<Descriptor, "mediaType" | "digest">[],
): Promise<void> {
  const labels = childLabels(children);
  if (Object.keys(labels).length > 0) {
    await content.updateLabels(parent.digest, labels);
  }
}

/**
 * The entries of `children` a platform matcher keeps: those without a
 * platform, and those whose platform matches. No matcher keeps all.
 */
export function filterPlatforms<T extends ImageDescriptor>(
  children: readonly T[],
  platform: PlatformMatcher | undefined,
): T[] {
  if (!platform) return [...children];
  return children.filter((child) =>
    !child.platform || platform.match(child.platform)
  );
}

/** One step of {@linkcode walk}. */
export interface WalkStep {
  /** The descriptor reached. */
  descriptor: ImageDescriptor;
  /** Its children, all of them (what its GC labels name). */
  children: ImageDescriptor[];
  /** The children the walk goes on to (platform-filtered). */
  selected: ImageDescriptor[];
  /** How deep: 0 for a root. */
  depth: number;
}

/** Options of {@linkcode walk}. */
export interface WalkOptions extends ReadJSONOptions {
  /** Which manifests of indexes to follow (default: all). */
  platform?: PlatformMatcher;
  /** Largest depth followed (default 16). */
  maxDepth?: number;
}

/**
 * Walks the graph under `roots`, depth first, each blob once. Manifests and
 * indexes are read (NotFound when missing); leaves are not.
 */
export async function* walk(
  content: Pick<ImageContent, "info" | "read">,
  roots: readonly ImageDescriptor[],
  options: WalkOptions = {},
): AsyncGenerator<WalkStep> {
  const seen = new Set<string>();
  const maxDepth = options.maxDepth ?? 16;
  async function* visit(
    desc: ImageDescriptor,
    depth: number,
  ): AsyncGenerator<WalkStep> {
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    if (depth > maxDepth) {
      throw invalidArgument(
        `${desc.digest}: content graph deeper than ${maxDepth}`,
      );
    }
    const children = await childrenOf(content, desc, options);
    const selected = filterPlatforms(children, options.platform);
    yield { descriptor: desc, children, selected, depth };
    for (const child of selected) yield* visit(child, depth + 1);
  }
  for (const root of roots) yield* visit(root, 0);
}

/** What {@linkcode check} found. */
export interface CheckResult {
  /** The manifest for the platform could be read. */
  available: boolean;
  /** Available, and no required blob is missing. */
  complete: boolean;
  /** The config and layers the platform's manifest needs. */
  required: Descriptor[];
  /** Those present. */
  present: Descriptor[];
  /** Those missing. */
  missing: Descriptor[];
}

/**
 * Checks an image as `ctr images check` does: the manifest for `platform`
 * must be readable (else unavailable, the target itself missing), then its
 * config and layers are present or missing.
 */
export async function check(
  content: Pick<ImageContent, "info" | "read">,
  target: Descriptor,
  options: ReadJSONOptions & { platform?: PlatformMatcher } = {},
): Promise<CheckResult> {
  let manifest;
  try {
    manifest = (await manifestFor(content, target, options.platform, options))
      .manifest;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return {
      available: false,
      complete: false,
      required: [target],
      present: [],
      missing: [target],
    };
  }
  const required: Descriptor[] = [manifest.config, ...manifest.layers];
  const present: Descriptor[] = [];
  const missing: Descriptor[] = [];
  for (const desc of required) {
    ((await tryInfo(content, desc.digest)) ? present : missing).push(desc);
  }
  return {
    available: true,
    complete: missing.length === 0,
    required,
    present,
    missing,
  };
}
