/**
 * `berth.services.transfer.v1.Transfer`: pull, push, import and export,
 * run in the daemon, with progress streamed to the client.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  BlobProgressSchema,
  ExportResponseSchema,
  type Progress,
  ProgressSchema,
  type RegistryOptions,
  Transfer,
} from "../gen/berth/services/transfer/v1/transfer_pb.ts";
import type { RegistryClientOptions } from "../remotes/mod.ts";
import { type ImageTransfers, ProgressTracker } from "../transfer/mod.ts";
import type { Descriptor } from "../types/mod.ts";
import { invalidArgument } from "../types/mod.ts";
import { toDescriptorMessage, toTimestamp } from "./_convert.ts";
import { requireNamespace } from "./_rpc.ts";

/** Shortest time between two progress messages. */
const PROGRESS_INTERVAL_MS = 100;

/** What the last progress message reports. */
interface Outcome {
  image: string;
  target: Descriptor;
  snapshot?: string;
}

function progressMessage(
  tracker: ProgressTracker,
  outcome?: Outcome,
): Progress {
  return create(ProgressSchema, {
    startedAt: toTimestamp(tracker.startedAt),
    blobs: tracker.snapshot().map((blob) =>
      create(BlobProgressSchema, {
        kind: blob.kind,
        descriptor: toDescriptorMessage(blob.descriptor),
        state: blob.state,
        offset: BigInt(blob.offset),
      })
    ),
    image: outcome?.image ?? "",
    target: outcome ? toDescriptorMessage(outcome.target) : undefined,
    snapshot: outcome?.snapshot ?? "",
  });
}

/**
 * Runs `job`, yielding its progress at most every {@linkcode
 * PROGRESS_INTERVAL_MS} while it changes, and a last message with the
 * outcome. A failed job ends the stream with its error.
 */
async function* streamProgress(
  job: (tracker: ProgressTracker) => Promise<Outcome>,
): AsyncGenerator<Progress> {
  let changed = false;
  let wake: (() => void) | undefined;
  const tracker = new ProgressTracker(() => {
    changed = true;
  });
  let finished = false;
  const running = job(tracker).finally(() => {
    finished = true;
    wake?.();
  });
  running.catch(() => {});
  while (!finished) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, PROGRESS_INTERVAL_MS);
    });
    if (changed && !finished) {
      changed = false;
      yield progressMessage(tracker);
    }
  }
  yield progressMessage(tracker, await running);
}

/** Options for {@linkcode transferService}. */
export interface TransferServiceOptions {
  /** What runs the transfers (`storeTransfers` on the daemon's stores). */
  transfers: ImageTransfers;
  /** Default hosts directory (containerd's `certs.d` layout). */
  hostsDir?: string;
  /** Default number of layers fetched at once. */
  maxConcurrentDownloads: number;
}

/** The Transfer service. */
export function transferService(
  options: TransferServiceOptions,
): ServiceImpl<typeof Transfer> {
  const { transfers } = options;
  const registryFor = (
    registry: RegistryOptions | undefined,
    concurrency?: number,
  ): RegistryClientOptions => {
    const credentials = registry?.credentials;
    const at = credentials ? credentials.indexOf(":") : -1;
    if (credentials && at < 0) {
      throw invalidArgument("credentials must be user:password");
    }
    return {
      plainHttp: registry?.plainHttp || undefined,
      hostsDir: registry?.hostsDir || options.hostsDir,
      concurrency: concurrency || options.maxConcurrentDownloads,
      credentials: credentials
        ? () => ({
          username: credentials.slice(0, at),
          password: credentials.slice(at + 1),
        })
        : undefined,
    };
  };
  return {
    async *pull(req, ctx) {
      const namespace = requireNamespace(ctx);
      const registry = registryFor(req.registry, req.maxConcurrentDownloads);
      yield* streamProgress(async (progress) => {
        const result = await transfers.pull({
          reference: req.reference,
          namespace,
          registry,
          platforms: { platforms: req.platforms, all: req.allPlatforms },
          snapshotter: req.snapshotter || undefined,
          labels: req.labels,
          concurrency: req.maxConcurrentDownloads ||
            options.maxConcurrentDownloads,
          progress,
          signal: ctx.signal,
        });
        return {
          image: result.image.name,
          target: result.image.target,
          snapshot: result.snapshot,
        };
      });
    },
    async *push(req, ctx) {
      const namespace = requireNamespace(ctx);
      const registry = registryFor(req.registry);
      yield* streamProgress(async (progress) => {
        const target = await transfers.push({
          image: req.image,
          reference: req.reference,
          namespace,
          registry,
          platforms: { platforms: req.platforms, all: req.allPlatforms },
          progress,
          signal: ctx.signal,
        });
        return { image: req.reference || req.image, target };
      });
    },
    async *import(requests, ctx) {
      const namespace = requireNamespace(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) throw invalidArgument("import needs an archive");
      const opts = first.value.options;
      const archive = (async function* () {
        if (first.value.data.length > 0) yield first.value.data;
        for (
          let next = await iterator.next();
          !next.done;
          next = await iterator.next()
        ) {
          if (next.value.data.length > 0) yield next.value.data;
        }
      })();
      yield* streamProgress(async () => {
        const images = await transfers.importImages(archive, {
          namespace,
          baseName: opts?.baseName || undefined,
          digests: opts?.digests,
          indexName: opts?.indexName || undefined,
          platforms: { platforms: opts?.platforms, all: opts?.allPlatforms },
          snapshotter: opts?.snapshotter || undefined,
          labels: opts?.labels,
          signal: ctx.signal,
        });
        const last = images.at(-1);
        if (!last) throw invalidArgument("the archive names no image");
        return {
          image: images.map((i) => i.name).join(","),
          target: last.target,
        };
      });
    },
    async *export(req, ctx) {
      const namespace = requireNamespace(ctx);
      if (req.images.length === 0) {
        throw invalidArgument("export needs at least one image");
      }
      const stream = await transfers.exportImages({
        namespace,
        images: req.images,
        platforms: { platforms: req.platforms, all: req.allPlatforms },
        skipNonDistributable: req.skipNonDistributable,
        skipDockerManifest: req.skipDockerManifest,
        signal: ctx.signal,
      });
      for await (const data of stream) {
        yield create(ExportResponseSchema, { data });
      }
    },
  };
}

export { Transfer };
