/**
 * Reading a tar stream entry by entry with tar-stream, with backpressure:
 * the source is read only as fast as entries are consumed.
 *
 * @module
 */
import { extract as tarExtract, type Header } from "tar-stream";
import { chunkSource, drained } from "../archive/tar_feed.ts";
import { BerthError, Code } from "../types/mod.ts";

/** One entry: its header and its bytes (read them, or call `skip`). */
export interface TarEntry {
  /** The header. */
  header: Header;
  /** The entry's bytes, once; must be consumed (or skipped) before the next. */
  body: AsyncIterator<Uint8Array>;
  /** Reads and drops what is left of the body. */
  skip(): Promise<void>;
}

/**
 * Yields the entries of the tar `source`. Each entry's body must be read
 * to its end, or skipped, before the next is asked for. Breaking out of
 * the loop cancels the source.
 */
export async function* tarEntries(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: { subject?: string } = {},
): AsyncGenerator<TarEntry> {
  const subject = options.subject ?? "archive";
  const extract = tarExtract();
  let readerError: unknown;
  extract.on("error", (err: unknown) => {
    readerError ??= err;
  });
  const { next, cancel } = chunkSource(source);
  let stopped = false;
  const pump = (async () => {
    try {
      for (;;) {
        const chunk = await next();
        if (stopped) return;
        if (chunk.done) break;
        if (extract.destroyed || extract.destroying) return;
        if (!extract.write(chunk.value)) await drained(extract);
      }
      (extract as unknown as { end(): void }).end();
    } catch (err) {
      readerError ??= err;
      extract.destroy(err as Error);
    }
  })();
  let complete = false;
  try {
    for await (const entry of extract) {
      const body = (entry as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      yield {
        header: entry.header,
        body,
        async skip() {
          while (!(await body.next()).done) { /* drop */ }
        },
      };
    }
    complete = true;
  } catch (err) {
    throw asTarError(readerError ?? err, subject);
  } finally {
    if (!complete) {
      stopped = true;
      extract.destroy();
      await cancel().catch(() => {});
    }
    await pump;
  }
  if (readerError) throw asTarError(readerError, subject);
}

function asTarError(err: unknown, subject: string): unknown {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError(
    Code.InvalidArgument,
    `${subject}: invalid tar: ${message}`,
    { cause: err },
  );
}
