/**
 * Resolving a reference to a descriptor: `HEAD /v2/REPO/manifests/TAG`
 * (then `GET` when the headers do not say enough) asking for every
 * manifest type; the digest from `Docker-Content-Digest` or computed from
 * the body. A digest reference is checked against what the registry says
 * or serves, and falls back to `/blobs/` like containerd.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { validateDigest } from "../content/digest.ts";
import {
  BerthError,
  Code,
  type Descriptor,
  DOCKER,
  formatReference,
  parseReference,
  type Reference,
  repositoryScope,
} from "../types/mod.ts";
import { discard, responseError } from "./errors.ts";
import {
  hasCapabilities,
  type HostCapability,
  type RegistryHost,
} from "./hosts.ts";
import {
  contentMediaType,
  isManifestMediaType,
  MANIFEST_ACCEPT,
  sniffManifestMediaType,
} from "./media_types.ts";
import type { RegistrySession } from "./session.ts";

/** Largest manifest accepted by default: 4 MiB. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

/** What a reference resolved to. */
export interface Resolved {
  /** The normalized reference: `docker.io/library/busybox:latest`. */
  name: string;
  /** The root manifest or index. */
  descriptor: Descriptor;
}

/** Options for {@linkcode resolve}. */
export interface ResolveOptions {
  /** Aborts the resolution. */
  signal?: AbortSignal;
  /** Largest manifest accepted, in bytes; default {@linkcode MAX_MANIFEST_SIZE}. */
  maxManifestSize?: number;
}

/**
 * Resolves `ref` against its registry's endpoints in order; the first
 * that knows it answers. All 404 → NotFound; otherwise the first other
 * failure is thrown.
 */
export async function resolve(
  session: RegistrySession,
  ref: string | Reference,
  options: ResolveOptions = {},
): Promise<Resolved> {
  const parsed = typeof ref === "string" ? parseReference(ref) : ref;
  const name = formatReference(parsed);
  const digest = parsed.digest;
  const object = digest ?? parsed.tag;
  if (!object) {
    throw new BerthError(
      Code.InvalidArgument,
      `reference ${JSON.stringify(name)}: object required (a tag or digest)`,
    );
  }
  if (digest) validateDigest(digest);
  const limit = options.maxManifestSize ?? MAX_MANIFEST_SIZE;
  const paths = digest
    ? [["manifests", digest], ["blobs", digest]]
    : [["manifests", object]];
  const needed: HostCapability[] = digest ? ["pull"] : ["pull", "resolve"];
  const hosts = (await session.hosts(parsed.domain)).filter((h) =>
    hasCapabilities(h, needed)
  );
  if (hosts.length === 0) {
    throw new BerthError(Code.NotFound, `${name}: no resolve hosts`);
  }
  const scopes = [repositoryScope(parsed.repository)];
  let firstError: Error | undefined;
  for (const parts of paths) {
    for (const host of hosts) {
      const url = session.url(host, parsed, ...parts);
      try {
        const descriptor = await resolveAt(session, host, url, {
          name,
          digest,
          limit,
          scopes,
          signal: options.signal,
        });
        if (descriptor) return { name, descriptor };
      } catch (err) {
        if (options.signal?.aborted) throw err;
        firstError ??= err as Error;
      }
    }
  }
  throw firstError ?? new BerthError(Code.NotFound, name);
}

interface Attempt {
  name: string;
  digest?: string;
  limit: number;
  scopes: string[];
  signal?: AbortSignal;
}

/** One endpoint and path: a descriptor, undefined on 404, or a throw. */
async function resolveAt(
  session: RegistrySession,
  host: RegistryHost,
  url: URL,
  attempt: Attempt,
): Promise<Descriptor | undefined> {
  const { name, limit } = attempt;
  const head = await session.send(host, {
    method: "HEAD",
    url,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: attempt.scopes,
    signal: attempt.signal,
  });
  if (head.status === 404) {
    await discard(head);
    return undefined;
  }
  if (head.status > 299) throw await failure(name, host.host, head);
  // A HEAD answered as GET (405 fallback) may carry the body.
  if (head.body && head.status === 200) await discard(head);

  const length = contentLength(head);
  let mediaType = contentMediaType(head.headers.get("content-type"));
  const header = head.headers.get("docker-content-digest") ?? "";
  if (header) {
    try {
      validateDigest(header);
    } catch (err) {
      throw new BerthError(
        Code.FailedPrecondition,
        `${name}: registry ${host.host} sent an invalid Docker-Content-Digest ${
          JSON.stringify(header)
        }: ${(err as Error).message}`,
      );
    }
  }
  if (attempt.digest && header && header !== attempt.digest) {
    throw mismatch(name, host.host, header, attempt.digest);
  }
  if (length !== undefined && length > limit) {
    throw tooLarge(name, length, limit);
  }
  const known = isManifestMediaType(mediaType) &&
    mediaType !== DOCKER.MANIFEST_SCHEMA1_SIGNED;
  if (length !== undefined && header && known) {
    return { mediaType, digest: header, size: length };
  }

  // Not enough from the headers: read the manifest itself.
  const get = await session.send(host, {
    method: "GET",
    url,
    headers: { accept: MANIFEST_ACCEPT },
    scopes: attempt.scopes,
    signal: attempt.signal,
  });
  if (get.status === 404) {
    await discard(get);
    return undefined;
  }
  if (get.status > 299) throw await failure(name, host.host, get);
  const getLength = contentLength(get);
  if (getLength !== undefined && getLength > limit) {
    await discard(get);
    throw tooLarge(name, getLength, limit);
  }
  const bytes = await readLimited(get, limit, name);
  mediaType = contentMediaType(get.headers.get("content-type"));
  if (!isManifestMediaType(mediaType)) {
    mediaType = sniffManifestMediaType(bytes) ?? mediaType;
  }
  if (mediaType === DOCKER.MANIFEST_SCHEMA1_SIGNED) {
    throw new BerthError(
      Code.Unimplemented,
      `${name}: Docker schema 1 manifests are not supported`,
    );
  }
  const computed = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  if (attempt.digest && computed !== attempt.digest) {
    throw mismatch(name, host.host, computed, attempt.digest);
  }
  return {
    mediaType: mediaType || "application/octet-stream",
    digest: computed,
    size: bytes.byteLength,
  };
}

function contentLength(response: Response): number | undefined {
  const value = response.headers.get("content-length");
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function failure(
  name: string,
  host: string,
  response: Response,
): Promise<BerthError> {
  const denied = response.status === 401 || response.status === 403;
  return responseError(
    denied
      ? `${name}: pull access denied, repository does not exist or may require authorization (host ${host})`
      : `${name}: pulling from host ${host}`,
    response,
  );
}

function mismatch(
  name: string,
  host: string,
  actual: string,
  expected: string,
): BerthError {
  return new BerthError(
    Code.FailedPrecondition,
    `${name}: registry ${host} served digest ${actual}, expected ${expected}`,
  );
}

function tooLarge(name: string, size: number | undefined, limit: number) {
  return new BerthError(
    Code.FailedPrecondition,
    `${name}: rejecting ${
      size === undefined ? "a" : `${size} byte`
    } manifest over the ${limit} byte limit`,
  );
}

/** Reads a body, failing as soon as it passes `limit` bytes. */
export async function readLimited(
  response: Response,
  limit: number,
  name: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw tooLarge(name, undefined, limit);
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw new BerthError(
        Code.Unavailable,
        `${name}: reading from ${response.url || "registry"}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    } finally {
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
