/**
 * `berth ctr content fetch-blob`.
 *
 * @module
 */
import type { Command } from "commander";
import { createHash } from "node:crypto";
import {
  CHUNK_SIZE,
  DISCARD_INGEST,
  rechunk,
  writeBlob,
} from "../../../src/client/content.ts";
import { parseLabelArgs } from "../../_format.ts";
import { parseBlobRef } from "../../_content.ts";
import type { Connection } from "../../_client.ts";

/**
 * A GET or HEAD on the registry; a `401` with a Bearer challenge is
 * answered with an anonymous token for pulling `repository`, once.
 */
async function registryFetch(
  url: string,
  repository: string,
  init: RequestInit = {},
): Promise<Response> {
  let resp = await fetchOrExplain(url, init);
  if (resp.status === 401) {
    await resp.body?.cancel();
    const challenge = resp.headers.get("www-authenticate") ?? "";
    const token = await anonymousToken(challenge, repository);
    if (token) {
      resp = await fetchOrExplain(url, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${token}` },
      });
    }
  }
  if (!resp.ok) {
    await resp.body?.cancel();
    throw new Error(
      `${init.method ?? "GET"} ${url}: ${resp.status} ${resp.statusText}`,
    );
  }
  return resp;
}

/** `fetch`, with the cause of a network failure in the message. */
async function fetchOrExplain(
  url: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as Error).cause;
    const detail = cause instanceof Error ? cause.message : String(err);
    throw new Error(`${init.method ?? "GET"} ${url}: ${detail}`, {
      cause: err,
    });
  }
}

async function anonymousToken(
  challenge: string,
  repository: string,
): Promise<string | undefined> {
  if (!/^bearer\s/i.test(challenge)) return undefined;
  const params: Record<string, string> = {};
  for (const m of challenge.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  if (!params.realm) return undefined;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set("service", params.service);
  url.searchParams.set(
    "scope",
    params.scope ?? `repository:${repository}:pull`,
  );
  const resp = await fetchOrExplain(url);
  if (!resp.ok) {
    await resp.body?.cancel();
    throw new Error(`token ${url}: ${resp.status} ${resp.statusText}`);
  }
  const body = await resp.json();
  return body.token ?? body.access_token;
}

/**
 * The blob's bytes from `offset` on. When the registry sends the whole
 * blob (no range asked, or the range ignored), every byte is hashed and a
 * mismatch fails the stream before the commit.
 */
async function* verified(
  url: string,
  repository: string,
  digest: string,
  offset: bigint,
): AsyncGenerator<Uint8Array> {
  const headers: Record<string, string> = {};
  if (offset > 0n) headers.range = `bytes=${offset}-`;
  const resp = await registryFetch(url, repository, { headers });
  if (!resp.body) throw new Error(`GET ${url}: empty response`);
  const whole = resp.status !== 206;
  const algorithm = digest.slice(0, digest.indexOf(":"));
  const hash = whole ? createHash(algorithm) : undefined;
  async function* hashed(body: ReadableStream<Uint8Array>) {
    for await (const chunk of body) {
      hash?.update(chunk);
      yield chunk;
    }
    if (hash) {
      const got = `${algorithm}:${hash.digest("hex")}`;
      if (got !== digest) {
        throw new Error(`digest mismatch: got ${got}, want ${digest}`, {
          cause: DISCARD_INGEST,
        });
      }
    }
  }
  // A whole blob is hashed from its start, then read from `offset` on.
  yield* rechunk(hashed(resp.body), CHUNK_SIZE, whole ? offset : 0n);
}

/** Adds the command to the `content` group. */
export function register(content: Command, connect: () => Connection): void {
  content.command("fetch-blob")
    .description(
      "fetch one blob from a registry (anonymous access) into the store",
    )
    .argument("<ref>", "HOST[:PORT]/REPOSITORY@DIGEST")
    .option("--plain-http", "talk HTTP instead of HTTPS to the registry")
    .option(
      "--label <label>",
      "KEY=VALUE label for the stored blob (repeatable)",
      (label: string, all: string[]) => [...all, label],
      [] as string[],
    )
    .action(async (ref: string, opts) => {
      const { host, repository, digest } = parseBlobRef(ref);
      const scheme = opts.plainHttp ? "http" : "https";
      const url = `${scheme}://${host}/v2/${repository}/blobs/${digest}`;
      const conn = connect();
      const labels = parseLabelArgs(opts.label);
      // The size comes first (the STAT that opens the ingest names it);
      // the body is opened once the daemon has said where to resume.
      const probe = await registryFetch(url, repository, { method: "HEAD" });
      await probe.body?.cancel();
      const size = BigInt(probe.headers.get("content-length") ?? "0");
      const ingestRef = `fetch-blob-${digest}`;
      const source = (offset: bigint) =>
        verified(url, repository, digest, offset);
      await writeBlob(conn.api, ingestRef, source, size, digest, labels);
      console.log(digest);
    });
}
