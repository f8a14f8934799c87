/**
 * One layer application onto mounts: the work {@linkcode WalkingDiffer}
 * does in its own thread or in a worker.
 *
 * @module
 */
import { applyLayer, type ApplyResult } from "../archive/mod.ts";
import { withTempMount } from "../mount/mod.ts";
import type { Mount } from "../types/mod.ts";

/** What an application needs, besides the layer's bytes. */
export interface ApplyJob {
  /** Where to apply. */
  mounts: readonly Mount[];
  /** The layer's media type (decides the decompression). */
  mediaType: string;
  /** The expected diffID, when known. */
  expectedDigest?: string;
  /** Where the temporary mount point goes. */
  tempRoot?: string;
}

/** Mounts `job.mounts` and applies `source` onto them. */
export function runApplyJob(
  job: ApplyJob,
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  return withTempMount(
    job.mounts,
    (root) =>
      applyLayer(root, source, {
        mediaType: job.mediaType,
        expectedDigest: job.expectedDigest,
        signal,
      }),
    { root: job.tempRoot },
  );
}
