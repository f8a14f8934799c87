/**
 * Fetching manifests (`/v2/REPO/manifests/DIGEST`) and blobs
 * (`/v2/REPO/blobs/DIGEST`) as verified streams. Redirects to blob storage
 * are followed; a body that breaks off is resumed with `Range` from the
 * byte reached (or re-read and skipped when the server ignores ranges); the
 * stream errors at the end when the size or digest is wrong.
 *
 * @module
 */
import { validateDigest } from "../content/digest.ts";
import {
  BerthError,
  Code,
  type Descriptor,
  formatReference,
  invalidArgument,
  parseReference,
  type Reference,
  repositoryScope,
} from "../types/mod.ts";
import { discard, responseError } from "./errors.ts";
import { hasCapabilities, type RegistryHost } from "./hosts.ts";
import { isManifestMediaType } from "./media_types.ts";
import { MAX_MANIFEST_SIZE } from "./resolver.ts";
import type { RegistrySession } from "./session.ts";
import { Verifier } from "./verify.ts";
import { sleep } from "./_sleep.ts";

/** Options for {@linkcode fetchContent}. */
export interface FetchOptions {
  /** Aborts the request and the stream. */
  signal?: AbortSignal;
  /** Largest manifest fetched; default {@linkcode MAX_MANIFEST_SIZE}. */
  maxManifestSize?: number;
  /**
   * Start at this byte (to resume an ingest). The digest cannot be checked
   * from the middle: only the size is then.
   */
  offset?: number;
  /** Reopenings of a broken body without progress in between; default 5. */
  resumes?: number;
  /** First pause before reopening, in ms, doubling; default 100. */
  resumeDelay?: number;
  /**
   * Check the digest while streaming (default true). A caller writing into
   * a content store that verifies on commit may skip the second hash; the
   * size is always checked.
   */
  verifyDigest?: boolean;
}

interface Opened {
  host: RegistryHost;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes at the start of the body to drop (server ignored the Range). */
  skip: number;
}

/** A body that ended before the expected size. */
class ShortBody extends Error {}

/**
 * Opens `descriptor` from `ref`'s repository as a stream of its bytes.
 * Errors found before the first byte (not found, denied, too large) are
 * thrown; later ones error the stream.
 */
export async function fetchContent(
  session: RegistrySession,
  ref: string | Reference,
  descriptor: Descriptor,
  options: FetchOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const parsed = typeof ref === "string" ? parseReference(ref) : ref;
  const name = formatReference(parsed);
  validateDigest(descriptor.digest);
  const size = descriptor.size;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(
      `descriptor ${descriptor.digest}: invalid size ${size}`,
    );
  }
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw invalidArgument(
      `descriptor ${descriptor.digest}: offset ${offset} outside 0..${size}`,
    );
  }
  const manifest = isManifestMediaType(descriptor.mediaType);
  const kind = manifest ? "manifest" : "blob";
  const subject = `${kind} ${descriptor.digest} of ${name}`;
  const limit = options.maxManifestSize ?? MAX_MANIFEST_SIZE;
  if (manifest && size > limit) {
    throw new BerthError(
      Code.FailedPrecondition,
      `${subject}: rejecting ${size} byte manifest over the ${limit} byte limit`,
    );
  }
  const hosts = (await session.hosts(parsed.domain)).filter((h) =>
    hasCapabilities(h, ["pull"])
  );
  if (hosts.length === 0) {
    throw new BerthError(Code.NotFound, `${name}: no pull hosts`);
  }
  const signal = options.signal;
  const scopes = [repositoryScope(parsed.repository)];
  const parts = [manifest ? "manifests" : "blobs", descriptor.digest];

  const open = async (at: number, preferred?: RegistryHost) => {
    const order = preferred
      ? [preferred, ...hosts.filter((h) => h !== preferred)]
      : hosts;
    let firstError: Error | undefined;
    for (const host of order) {
      const url = session.url(host, parsed, ...parts);
      const headers = new Headers({ accept: `${descriptor.mediaType}, */*` });
      if (at > 0) headers.set("range", `bytes=${at}-`);
      try {
        const response = await session.send(host, {
          method: "GET",
          url,
          headers,
          scopes,
          signal,
        });
        if (response.status > 299) {
          throw await responseError(
            `${subject}: fetching from ${url}`,
            response,
          );
        }
        let skip = 0;
        if (at > 0 && response.status === 206) {
          const range = response.headers.get("content-range") ?? "";
          if (!range.startsWith(`bytes ${at}-`)) {
            await discard(response);
            throw new BerthError(
              Code.Unavailable,
              `${subject}: unhandled content range ${
                JSON.stringify(range)
              } for bytes=${at}-`,
            );
          }
        } else if (at > 0) {
          skip = at; // Range ignored: the body starts over.
        }
        if (!response.body) {
          throw new BerthError(Code.Unavailable, `${subject}: empty response`);
        }
        return { host, reader: response.body.getReader(), skip } as Opened;
      } catch (err) {
        if (signal?.aborted) throw err;
        // Prefer an error more telling than "not found" on another host.
        if (!firstError || BerthError.is(firstError, Code.NotFound)) {
          firstError = err as Error;
        }
      }
    }
    throw firstError ?? new BerthError(Code.NotFound, subject);
  };

  const verifier = new Verifier(
    descriptor,
    subject,
    offset,
    options.verifyDigest ?? true,
  );
  if (offset === size) {
    return new ReadableStream({
      start(controller) {
        verifier.finish();
        controller.close();
      },
    });
  }
  let current = await open(offset);
  const resumes = options.resumes ?? 5;
  const delay = options.resumeDelay ?? 100;
  let failures = 0;

  const release = (reason?: unknown) => {
    current.reader.cancel(reason).catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let chunk: Uint8Array;
          try {
            const read = await current.reader.read();
            if (read.done) {
              if (verifier.received < size) {
                throw new ShortBody("body ended early");
              }
              verifier.finish();
              controller.close();
              return;
            }
            chunk = read.value;
          } catch (err) {
            if (signal?.aborted) throw signal.reason ?? err;
            if (err instanceof BerthError) throw err;
            failures++;
            if (failures > resumes) {
              throw new BerthError(
                Code.Unavailable,
                `${subject}: ${
                  (err as Error).message
                } at byte ${verifier.received} of ${size}, after ${resumes} resumes`,
                { cause: err },
              );
            }
            release();
            await sleep(delay * 2 ** (failures - 1), signal);
            current = await open(verifier.received, current.host);
            continue;
          }
          if (current.skip > 0) {
            const drop = Math.min(current.skip, chunk.byteLength);
            current.skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.byteLength === 0) continue;
          }
          failures = 0;
          verifier.update(chunk);
          controller.enqueue(chunk);
          return;
        }
      } catch (err) {
        release(err);
        throw err;
      }
    },
    cancel(reason) {
      release(reason);
    },
  });
}
