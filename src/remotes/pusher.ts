/**
 * Pushing blobs and manifests. A blob is checked for first (`HEAD`),
 * mounted from another repository of the same registry when its
 * `containerd.io/distribution.source.<host>` label names one, or uploaded:
 * `POST /blobs/uploads/` then one `PUT ?digest=` (monolithic), or `PATCH`
 * chunks and a closing `PUT` above a size threshold. A manifest is `PUT`
 * to its tag (or digest) with its media type.
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

/**
 * What to push: bytes, a stream, or a function opening a stream (only
 * called when an upload is needed).
 */
export type PushContent =
  | Uint8Array
  | ReadableStream<Uint8Array>
  | (() => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>);

/** Options for {@linkcode pushContent} and friends. */
export interface PushOptions {
  /** Aborts the push. */
  signal?: AbortSignal;
  /**
   * The content's labels; `containerd.io/distribution.source.<host>` (a
   * comma-separated list of repositories) enables cross-repository mounts.
   * The descriptor's annotations are looked at too.
   */
  labels?: Record<string, string>;
  /** Blobs larger than this are uploaded in chunks; default 64 MiB. */
  chunkThreshold?: number;
  /** Size of each uploaded chunk; default 16 MiB. */
  chunkSize?: number;
  /** Push a manifest by digest even when the reference has a tag. */
  byDigest?: boolean;
  /** Largest manifest pushed; default {@linkcode MAX_MANIFEST_SIZE}. */
  maxManifestSize?: number;
}

/** What a push did. */
export interface PushResult {
  /** `exists`: already there; `mounted`: from another repository; `uploaded`. */
  status: "exists" | "mounted" | "uploaded";
  /** The descriptor pushed. */
  descriptor: Descriptor;
  /** The repository mounted from. */
  mountedFrom?: string;
}

/** The label prefix naming repositories a blob came from, per host. */
export const DISTRIBUTION_SOURCE_LABEL = "containerd.io/distribution.source";

const DEFAULT_CHUNK_THRESHOLD = 64 * 1024 * 1024;
const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

/** Pushes a manifest or a blob, by `descriptor.mediaType`. */
export function pushContent(
  session: RegistrySession,
  ref: string | Reference,
  descriptor: Descriptor,
  content: PushContent,
  options: PushOptions = {},
): Promise<PushResult> {
  return isManifestMediaType(descriptor.mediaType)
    ? pushManifest(session, ref, descriptor, content, options)
    : pushBlob(session, ref, descriptor, content, options);
}

async function pushHost(
  session: RegistrySession,
  ref: Reference,
): Promise<RegistryHost> {
  const hosts = (await session.hosts(ref.domain)).filter((h) =>
    hasCapabilities(h, ["push"])
  );
  if (hosts.length === 0) {
    throw new BerthError(
      Code.NotFound,
      `${formatReference(ref)}: no push hosts`,
    );
  }
  return hosts[0];
}

function checkDescriptor(descriptor: Descriptor): void {
  validateDigest(descriptor.digest);
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw invalidArgument(
      `descriptor ${descriptor.digest}: invalid size ${descriptor.size}`,
    );
  }
}

/**
 * The repository to mount from: of those the label lists on this host,
 * the one sharing the most leading path components with the target.
 */
export function mountCandidate(
  ref: Reference,
  labels: Record<string, string>,
): string | undefined {
  const value = labels[`${DISTRIBUTION_SOURCE_LABEL}.${ref.domain}`];
  if (!value) return undefined;
  const target = ref.repository.split("/");
  let best: string | undefined;
  let bestScore = -1;
  for (const repo of value.split(",").map((r) => r.trim()).filter(Boolean)) {
    if (repo === ref.repository) continue;
    try {
      parseReference(`${ref.domain}/${repo}`);
    } catch {
      continue;
    }
    const parts = repo.split("/");
    let score = 0;
    while (
      score < parts.length && score < target.length &&
      parts[score] === target[score]
    ) score++;
    if (score >= bestScore) {
      best = repo;
      bestScore = score;
    }
  }
  return best;
}

/** Where a push goes: the parsed reference, its host, and the push scope. */
async function pushTarget(
  session: RegistrySession,
  ref: string | Reference,
  descriptor: Descriptor,
  kind: "blob" | "manifest",
) {
  const parsed = typeof ref === "string" ? parseReference(ref) : ref;
  checkDescriptor(descriptor);
  return {
    parsed,
    subject: `${kind} ${descriptor.digest} to ${formatReference(parsed)}`,
    host: await pushHost(session, parsed),
    scopes: [repositoryScope(parsed.repository, true)],
  };
}

/** Pushes one blob; returns whether it existed, was mounted or uploaded. */
export async function pushBlob(
  session: RegistrySession,
  ref: string | Reference,
  descriptor: Descriptor,
  content: PushContent,
  options: PushOptions = {},
): Promise<PushResult> {
  const { parsed, subject, host, scopes } = await pushTarget(
    session,
    ref,
    descriptor,
    "blob",
  );
  const signal = options.signal;
  const done = async (status: PushResult["status"], from?: string) => {
    if (content instanceof ReadableStream) {
      await content.cancel().catch(() => {});
    }
    const result: PushResult = { status, descriptor };
    if (from) result.mountedFrom = from;
    return result;
  };

  const head = await session.send(host, {
    method: "HEAD",
    url: session.url(host, parsed, "blobs", descriptor.digest),
    scopes,
    signal,
  });
  await discard(head);
  if (head.status === 200) return done("exists");
  if (![401, 403, 404].includes(head.status)) {
    throw await responseError(`${subject}: checking existence`, head);
  }

  let started: Response | undefined;
  const from = mountCandidate(parsed, {
    ...descriptor.annotations,
    ...options.labels,
  });
  if (from) {
    const url = session.url(host, parsed, "blobs", "uploads/");
    url.searchParams.set("mount", descriptor.digest);
    url.searchParams.set("from", from);
    const response = await session.send(host, {
      method: "POST",
      url,
      headers: { "content-length": "0" },
      scopes: [...scopes, repositoryScope(from)],
      signal,
    });
    if (response.status === 201) {
      await discard(response);
      return done("mounted", from);
    }
    if (response.status === 202) {
      started = response;
    } else if ([401, 403, 404].includes(response.status)) {
      await discard(response);
    } else {
      throw await responseError(`${subject}: mounting from ${from}`, response);
    }
  }
  if (!started) {
    const response = await session.send(host, {
      method: "POST",
      url: session.url(host, parsed, "blobs", "uploads/"),
      headers: { "content-length": "0" },
      scopes,
      signal,
    });
    if (response.status === 201) {
      await discard(response);
      return done("exists");
    }
    if (![200, 202, 204].includes(response.status)) {
      throw await responseError(`${subject}: starting upload`, response);
    }
    started = response;
  }
  await discard(started);
  let location = uploadLocation(started, host, subject);

  const body = typeof content === "function" ? await content() : content;
  // A verification failure aborts the upload body; report it, not the abort.
  let verifyError: unknown;
  const threshold = options.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD;
  try {
    let finish: Response;
    if (descriptor.size <= threshold) {
      const url = new URL(location);
      url.searchParams.set("digest", descriptor.digest);
      let payload: Uint8Array | (() => ReadableStream<Uint8Array>);
      if (body instanceof Uint8Array) {
        const verifier = new Verifier(descriptor, subject);
        verifier.update(body);
        verifier.finish();
        payload = body;
      } else {
        const verifier = new Verifier(descriptor, subject);
        const verified = body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              try {
                verifier.update(chunk);
              } catch (err) {
                verifyError = err;
                throw err;
              }
              controller.enqueue(chunk);
            },
            flush() {
              try {
                verifier.finish();
              } catch (err) {
                verifyError = err;
                throw err;
              }
            },
          }),
        );
        let opened = false;
        payload = () => {
          if (opened) throw new Error("stream body cannot be sent twice");
          opened = true;
          return verified;
        };
      }
      finish = await session.send(host, {
        method: "PUT",
        url,
        headers: { "content-type": "application/octet-stream" },
        body: payload,
        scopes,
        signal,
        retries: payload instanceof Uint8Array ? undefined : 0,
      });
    } else {
      location = await uploadChunks(session, host, {
        location,
        body,
        descriptor,
        subject,
        scopes,
        chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
        signal,
      });
      const url = new URL(location);
      url.searchParams.set("digest", descriptor.digest);
      finish = await session.send(host, {
        method: "PUT",
        url,
        headers: { "content-length": "0" },
        scopes,
        signal,
      });
    }
    if (![200, 201, 202, 204].includes(finish.status)) {
      throw await responseError(`${subject}: committing upload`, finish);
    }
    await discard(finish);
    checkDigestHeader(finish, descriptor, subject);
  } catch (err) {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    // Best effort: the registry expires abandoned uploads anyway.
    await session.send(host, {
      method: "DELETE",
      url: new URL(location),
      scopes,
      retries: 0,
    }).then(discard, () => {});
    throw verifyError ?? err;
  }
  return { status: "uploaded", descriptor };
}

interface ChunkUpload {
  location: string;
  body: Uint8Array | ReadableStream<Uint8Array>;
  descriptor: Descriptor;
  subject: string;
  scopes: string[];
  chunkSize: number;
  signal?: AbortSignal;
}

/** PATCHes the content in chunks; returns the location to commit at. */
async function uploadChunks(
  session: RegistrySession,
  host: RegistryHost,
  upload: ChunkUpload,
): Promise<string> {
  const { descriptor, subject } = upload;
  const verifier = new Verifier(descriptor, subject);
  let location = upload.location;
  let sent = 0;
  const send = async (chunk: Uint8Array) => {
    const end = sent + chunk.byteLength - 1;
    const response = await session.send(host, {
      method: "PATCH",
      url: new URL(location),
      headers: {
        "content-type": "application/octet-stream",
        "content-range": `${sent}-${end}`,
      },
      body: chunk,
      scopes: upload.scopes,
      signal: upload.signal,
    });
    if (response.status !== 202 && response.status !== 204) {
      throw await responseError(
        `${subject}: uploading bytes ${sent}-${end}`,
        response,
      );
    }
    await discard(response);
    const range = response.headers.get("range");
    if (range && !new RegExp(`^(?:bytes=)?0-${end}$`).test(range)) {
      throw new BerthError(
        Code.Unavailable,
        `${subject}: registry acknowledged range ${
          JSON.stringify(range)
        } after bytes 0-${end}`,
      );
    }
    location = uploadLocation(response, host, subject, location);
    sent = end + 1;
  };
  const chunks = upload.body instanceof Uint8Array
    ? sliceBytes(upload.body, upload.chunkSize)
    : rechunk(upload.body, upload.chunkSize);
  for await (const chunk of chunks) {
    verifier.update(chunk);
    await send(chunk);
  }
  verifier.finish();
  return location;
}

function* sliceBytes(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) {
    yield bytes.subarray(at, at + size);
  }
}

/** Regroups a stream into chunks of exactly `size` bytes (the last less). */
async function* rechunk(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const piece of stream) {
    let at = 0;
    while (at < piece.byteLength) {
      const take = Math.min(size - filled, piece.byteLength - at);
      buffer.set(piece.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/** The absolute upload URL from a response's `Location`. */
function uploadLocation(
  response: Response,
  host: RegistryHost,
  subject: string,
  previous?: string,
): string {
  const location = response.headers.get("location");
  if (!location) {
    if (previous) return previous;
    throw new BerthError(
      Code.Unavailable,
      `${subject}: registry sent no upload location`,
    );
  }
  const base = previous ?? `${host.scheme}://${host.host}/`;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ||
      location.startsWith("/")
    ? location
    : `${host.scheme}://${location}`;
  const url = new URL(withScheme, base);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BerthError(
      Code.Unavailable,
      `${subject}: unsupported upload location ${JSON.stringify(location)}`,
    );
  }
  return url.href;
}

function checkDigestHeader(
  response: Response,
  descriptor: Descriptor,
  subject: string,
): void {
  const header = response.headers.get("docker-content-digest");
  if (header && header !== descriptor.digest) {
    throw new BerthError(
      Code.FailedPrecondition,
      `${subject}: registry stored digest ${header}, expected ${descriptor.digest}`,
    );
  }
}

/** Pushes a manifest (or index) to the reference's tag, or by digest. */
export async function pushManifest(
  session: RegistrySession,
  ref: string | Reference,
  descriptor: Descriptor,
  content: PushContent,
  options: PushOptions = {},
): Promise<PushResult> {
  const { parsed, subject, host, scopes } = await pushTarget(
    session,
    ref,
    descriptor,
    "manifest",
  );
  const limit = options.maxManifestSize ?? MAX_MANIFEST_SIZE;
  if (descriptor.size > limit) {
    throw new BerthError(
      Code.FailedPrecondition,
      `${subject}: rejecting ${descriptor.size} byte manifest over the ${limit} byte limit`,
    );
  }
  const signal = options.signal;
  const object = options.byDigest || !parsed.tag
    ? descriptor.digest
    : parsed.tag;

  const head = await session.send(host, {
    method: "HEAD",
    url: session.url(host, parsed, "manifests", object),
    headers: { accept: `${descriptor.mediaType}, */*` },
    scopes,
    signal,
  });
  await discard(head);
  if (
    head.status === 200 &&
    (object === descriptor.digest ||
      head.headers.get("docker-content-digest") === descriptor.digest)
  ) {
    if (content instanceof ReadableStream) {
      await content.cancel().catch(() => {});
    }
    return { status: "exists", descriptor };
  }
  if (head.status !== 200 && ![401, 403, 404].includes(head.status)) {
    throw await responseError(`${subject}: checking existence`, head);
  }

  const bytes = await readAll(content, descriptor, subject);
  const response = await session.send(host, {
    method: "PUT",
    url: session.url(host, parsed, "manifests", object),
    headers: { "content-type": descriptor.mediaType },
    body: bytes,
    scopes,
    signal,
  });
  if (![200, 201, 202, 204].includes(response.status)) {
    throw await responseError(`${subject}: putting manifest`, response);
  }
  await discard(response);
  checkDigestHeader(response, descriptor, subject);
  return { status: "uploaded", descriptor };
}

/** Reads manifest content whole, checking its size and digest. */
async function readAll(
  content: PushContent,
  descriptor: Descriptor,
  subject: string,
): Promise<Uint8Array> {
  const verifier = new Verifier(descriptor, subject);
  if (content instanceof Uint8Array) {
    verifier.update(content);
    verifier.finish();
    return content;
  }
  const stream = typeof content === "function" ? await content() : content;
  const bytes = new Uint8Array(descriptor.size);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const at = verifier.received;
      verifier.update(value);
      bytes.set(value, at);
    }
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    reader.releaseLock();
  }
  verifier.finish();
  return bytes;
}
