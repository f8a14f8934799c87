/**
 * `berth ctr content ls|get|ingest|active|label|rm|fetch-blob`: the content
 * store, as ctr 1.6 drives and prints it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Command, Option } from "commander";
import {
  Content,
  type Info,
} from "../../src/gen/containerd/services/content/v1/content_pb.ts";
import { parseDuration } from "../../src/types/duration.ts";
import type { Connection } from "../_client.ts";
import {
  DISCARD_INGEST,
  parseDigest,
  readBlob,
  writeBlob,
  writeFull,
} from "../../src/client/content.ts";
import { errorMessage } from "../../src/client/errors.ts";
import {
  humanDuration,
  humanSize,
  parseLabelArgs,
  tabwrite,
} from "../_format.ts";

/** ctr's `content` tables: tabwriter(minwidth 1, tabwidth 8, padding 1, '\t'). */
const TABS = { minwidth: 1, tabwidth: 8, padding: 1, padchar: "\t" };

const age = (ts: Timestamp | undefined) =>
  humanDuration(ts ? Date.now() - timestampDate(ts).getTime() : Date.now());

const isoTime = (ts: Timestamp | undefined) =>
  ts ? timestampDate(ts).toISOString() : null;

/** A blob's labels as ctr lists them: `k=v` joined by commas, sorted. */
function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(",");
}

/** Adds the command to `program`. */
export function contentCommand(
  program: Command,
  connect: () => Connection,
): void {
  const content = program.command("content").description("manage content");

  content.command("list").alias("ls")
    .description("list all blobs in the store")
    .argument("[filters...]", 'filters, e.g. labels."containerd.io/gc.root"')
    .option("-q, --quiet", "print only the blob digest")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const infos: Info[] = [];
      const stream = conn.client(Content).list({ filters }, {
        signal: conn.signal,
      });
      for await (const resp of stream) {
        if (opts.quiet && !opts.json) {
          for (const info of resp.info) console.log(info.digest);
        } else infos.push(...resp.info);
      }
      if (opts.json) {
        console.log(JSON.stringify(
          infos.map((i) => ({
            digest: i.digest,
            size: Number(i.size),
            createdAt: isoTime(i.createdAt),
            updatedAt: isoTime(i.updatedAt),
            labels: i.labels,
          })),
          null,
          2,
        ));
        return;
      }
      if (opts.quiet) return;
      let text = "DIGEST\tSIZE\tAGE\tLABELS\n";
      for (const i of infos) {
        text += `${i.digest}\t${humanSize(i.size)}\t${age(i.createdAt)}\t${
          labelText(i.labels) || "-"
        }\n`;
      }
      await writeText(tabwrite(text, TABS));
    });

  content.command("get")
    .description("get the data for an object")
    .argument("<digest>")
    .action(async (digest: string) => {
      parseDigest(digest);
      const conn = connect();
      try {
        for await (const data of readBlob(conn.api, digest)) {
          await writeFull(Deno.stdout, data);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
        // The reader went away (`| head`): end quietly with the status a
        // process killed by SIGPIPE has, as ctr does.
        throw Object.assign(new Error("broken pipe"), {
          code: "berth.brokenPipe",
          exitCode: 141,
        });
      }
    });

  content.command("ingest")
    .description("accept content into the store, from standard input")
    .argument("<ref>", "the ingest's transaction reference")
    .option("--expected-size <bytes>", "validate against provided size", "0")
    .option(
      "--expected-digest <digest>",
      "verify content against expected digest",
    )
    .action(async (ref: string, opts) => {
      const expected: string = opts.expectedDigest ?? "";
      if (expected) parseDigest(expected);
      if (!ref) throw new Error("must specify a transaction reference");
      const size = parseSize(opts.expectedSize);
      const conn = connect();
      await writeBlob(conn.api, ref, Deno.stdin.readable, size, expected);
    });

  content.command("active")
    .description("display active transfers")
    .argument("[filter]", "a filter on the ingests, e.g. ref~=layer")
    .option("-t, --timeout <duration>", "total timeout for the listing", "0")
    .addOption(new Option("--root <path>", "ignored (as in ctr)").hideHelp())
    .action(async (filter: string | undefined, opts) => {
      const conn = connect();
      const timeoutMs = parseDuration(opts.timeout);
      const signal = timeoutMs > 0
        ? AbortSignal.any([conn.signal, AbortSignal.timeout(timeoutMs)])
        : conn.signal;
      const { statuses } = await conn.client(Content).listStatuses(
        { filters: filter ? [filter] : [] },
        { signal },
      );
      let text = "REF\tSIZE\tAGE\t\n";
      for (const s of statuses) {
        text += `${s.ref}\t${humanSize(s.offset)}\t${age(s.startedAt)}\t\n`;
      }
      await writeText(tabwrite(text, TABS));
    });

  content.command("label")
    .description(
      "add labels to content; KEY= clears a label, a bare KEY sets it to true",
    )
    .argument("<digest>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (digest: string, args: string[]) => {
      const conn = connect();
      const labels = parseLabelArgs(args, "true");
      parseDigest(digest);
      const client = conn.client(Content);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const set = Object.fromEntries(
        Object.entries(labels).filter(([, v]) => v !== ""),
      );
      const { info } = paths.length === 0
        ? await client.info({ digest }, { signal: conn.signal })
        : await client.update({
          info: { digest, labels: set },
          updateMask: { paths },
        }, { signal: conn.signal });
      console.log(labelText(info?.labels ?? {}));
    });

  content.command("delete").aliases(["del", "remove", "rm"])
    .description(
      "permanently delete one or more blobs; prints each one deleted",
    )
    .argument("[digests...]")
    .action(async (digests: string[]) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const digest of digests) {
        try {
          parseDigest(digest);
          await conn.client(Content).delete({ digest }, {
            signal: conn.signal,
          });
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.NotFound) {
            continue;
          }
          const message = `could not delete ${digest}: ${errorMessage(err)}`;
          console.error(`ctr: ${message}`);
          failure ??= new Error(errorMessage(err));
          continue;
        }
        console.log(digest);
      }
      if (failure) throw failure;
    });

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

async function writeText(text: string): Promise<void> {
  await writeFull(Deno.stdout, new TextEncoder().encode(text));
}

function parseSize(text: string): bigint {
  if (!/^-?\d+$/.test(text)) {
    throw new Error(`invalid value ${JSON.stringify(text)} for a size`);
  }
  return BigInt(text);
}

/** The parts of `HOST[:PORT]/REPOSITORY@DIGEST` (Docker Hub when no host). */
export function parseBlobRef(
  ref: string,
): { host: string; repository: string; digest: string } {
  const at = ref.lastIndexOf("@");
  if (at < 0) throw new Error(`${ref}: a blob reference needs @DIGEST`);
  const digest = parseDigest(ref.slice(at + 1));
  let name = ref.slice(0, at);
  let host = "registry-1.docker.io";
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (first && (/[.:]/.test(first) || first === "localhost")) {
    host = first === "docker.io" ? host : first;
    name = name.slice(slash + 1);
  }
  if (host === "registry-1.docker.io" && !name.includes("/")) {
    name = `library/${name}`;
  }
  if (
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
      .test(name)
  ) {
    throw new Error(`${ref}: invalid repository name ${JSON.stringify(name)}`);
  }
  return { host, repository: name, digest };
}

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
  let skip = whole ? offset : 0n;
  for await (let chunk of resp.body) {
    hash?.update(chunk);
    if (skip > 0n) {
      if (BigInt(chunk.length) <= skip) {
        skip -= BigInt(chunk.length);
        continue;
      }
      chunk = chunk.subarray(Number(skip));
      skip = 0n;
    }
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
