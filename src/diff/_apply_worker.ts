/**
 * The worker that applies layers off the daemon's main thread, so a pull
 * downloads and unpacks on two cores. The main thread sends a job, then
 * the layer's bytes as transferred chunks; the worker grants a credit per
 * chunk consumed (bounding what is in flight) and answers with the result
 * or the error.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { BerthError } from "../types/mod.ts";
import { type ApplyJob, runApplyJob } from "./_apply_job.ts";

/** Messages from the main thread. */
export type ToWorker =
  | { type: "apply"; id: number; job: ApplyJob }
  | { type: "chunk"; id: number; data: Uint8Array }
  | { type: "end"; id: number }
  | { type: "abort"; id: number; message: string };

/** Messages to the main thread. */
export type FromWorker =
  | { type: "credit"; id: number }
  | { type: "done"; id: number; digest: string; size: number }
  | { type: "error"; id: number; code?: number; message: string };

interface Feed {
  chunks: Uint8Array[];
  ended: boolean;
  aborted?: string;
  wake?: () => void;
}

const feeds = new Map<number, Feed>();

async function* chunksOf(id: number, feed: Feed): AsyncGenerator<Uint8Array> {
  while (true) {
    const chunk = feed.chunks.shift();
    if (chunk) {
      yield chunk;
      self.postMessage({ type: "credit", id } satisfies FromWorker);
    } else if (feed.aborted !== undefined) {
      throw new Error(feed.aborted);
    } else if (feed.ended) {
      return;
    } else {
      await new Promise<void>((wake) => feed.wake = wake);
      feed.wake = undefined;
    }
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "apply") {
    const feed: Feed = { chunks: [], ended: false };
    feeds.set(message.id, feed);
    runApplyJob(message.job, chunksOf(message.id, feed)).then(
      (result) =>
        self.postMessage(
          { type: "done", id: message.id, ...result } satisfies FromWorker,
        ),
      (err) =>
        self.postMessage(
          {
            type: "error",
            id: message.id,
            code: err instanceof BerthError ? err.code : undefined,
            message: err instanceof Error ? err.message : String(err),
          } satisfies FromWorker,
        ),
    ).finally(() => feeds.delete(message.id));
    return;
  }
  const feed = feeds.get(message.id);
  if (!feed) return;
  if (message.type === "chunk") feed.chunks.push(message.data);
  else if (message.type === "end") feed.ended = true;
  else feed.aborted = message.message;
  feed.wake?.();
};
