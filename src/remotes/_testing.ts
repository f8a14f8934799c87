/**
 * A small in-memory registry for tests (distribution API v2 on
 * `Deno.serve`, 127.0.0.1, a free port): manifests and blobs, uploads
 * (monolithic, chunked, mounts), Basic or Bearer auth with its own token
 * endpoint, optional blob redirects, Range support, connections dropped
 * mid-blob, and a hook to answer any request differently.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Descriptor } from "../types/mod.ts";

/** Auth the fake registry demands. */
export type FakeAuth =
  | { kind: "basic"; username: string; password: string }
  | {
    kind: "bearer";
    /** Credentials the token endpoint demands; anonymous when absent. */
    username?: string;
    password?: string;
    /** Token lifetime in seconds (omitted from the response when unset). */
    expiresIn?: number;
    /** Repositories the token endpoint never grants (private to others). */
    deny?: string[];
  };

/** Options for {@linkcode FakeRegistry.start}. */
export interface FakeRegistryOptions {
  /** Auth required on /v2/ requests. */
  auth?: FakeAuth;
  /** Honour `Range` on blob GETs; default true. */
  ranges?: boolean;
  /** Answer blob GETs with a 307 to `/storage/<digest>`. */
  redirectBlobs?: boolean;
  /** Send `Docker-Content-Digest` on manifest responses; default true. */
  digestHeader?: boolean;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** One request the registry saw. */
export interface SeenRequest {
  /** HTTP method. */
  method: string;
  /** Path with query. */
  path: string;
  /** Request headers. */
  headers: Headers;
}

interface Upload {
  repo: string;
  chunks: Uint8Array[];
  size: number;
}

function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function errorResponse(status: number, code: string, message: string) {
  return Response.json({ errors: [{ code, message }] }, { status });
}

/** The fake registry; `host` is `127.0.0.1:PORT`. */
export class FakeRegistry {
  /** Blobs per repository. */
  readonly blobs = new Map<string, Map<string, Uint8Array>>();
  /** Manifests per repository, by tag and by digest. */
  readonly manifests = new Map<
    string,
    Map<string, { mediaType: string; bytes: Uint8Array }>
  >();
  /** Every request, in order. */
  readonly requests: SeenRequest[] = [];
  /** Token requests: their query parameters and Authorization. */
  readonly tokenRequests: { params: URLSearchParams; authorization: string }[] =
    [];
  /** Bytes served instead of the real blob, by digest. */
  readonly corrupt = new Map<string, Uint8Array>();
  /** Blob GETs to cut off: digest → bytes sent before each of the next cuts. */
  readonly drops = new Map<string, number[]>();
  /** Answers a request before the registry does, when it returns one. */
  intercept?: (req: Request, url: URL) => Response | undefined;

  readonly #uploads = new Map<string, Upload>();
  readonly #tokens = new Map<string, string[]>();
  readonly #options: FakeRegistryOptions;
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #nextId = 0;

  private constructor(options: FakeRegistryOptions) {
    this.#options = options;
  }

  /** Starts a registry on 127.0.0.1 with a free port. */
  static start(options: FakeRegistryOptions = {}): FakeRegistry {
    const registry = new FakeRegistry(options);
    registry.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {}, ...options.tls },
      (req) => registry.#handle(req),
    );
    return registry;
  }

  /** `127.0.0.1:PORT`. */
  get host(): string {
    return `127.0.0.1:${this.#server.addr.port}`;
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Stores a blob in `repo`; returns its descriptor. */
  addBlob(
    repo: string,
    bytes: Uint8Array,
    mediaType = "application/octet-stream",
  ): Descriptor {
    const digest = digestOf(bytes);
    this.#repoBlobs(repo).set(digest, bytes);
    return { mediaType, digest, size: bytes.byteLength };
  }

  /** Stores a manifest in `repo` by digest (and `tag`). */
  addManifest(
    repo: string,
    mediaType: string,
    bytes: Uint8Array,
    tag?: string,
  ): Descriptor {
    const digest = digestOf(bytes);
    const map = this.#repoManifests(repo);
    map.set(digest, { mediaType, bytes });
    if (tag) map.set(tag, { mediaType, bytes });
    return { mediaType, digest, size: bytes.byteLength };
  }

  #repoBlobs(repo: string): Map<string, Uint8Array> {
    let map = this.blobs.get(repo);
    if (!map) this.blobs.set(repo, map = new Map());
    return map;
  }

  #repoManifests(repo: string) {
    let map = this.manifests.get(repo);
    if (!map) this.manifests.set(repo, map = new Map());
    return map;
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    this.requests.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
    });
    const intercepted = this.intercept?.(req, url);
    if (intercepted) return intercepted;
    if (url.pathname === "/token") return this.#token(req, url);
    const storage = url.pathname.match(/^\/storage\/(sha256:[a-f0-9]{64})$/);
    if (storage) return this.#serveBlob(req, storage[1], undefined);
    if (url.pathname === "/v2/" || url.pathname === "/v2") {
      return this.#authorize(req, undefined, "pull") ??
        Response.json({});
    }
    let m = url.pathname.match(/^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/);
    if (m) return await this.#upload(req, url, m[1], m[2]);
    m = url.pathname.match(/^\/v2\/(.+)\/blobs\/([^/]+)$/);
    if (m) {
      const denied = this.#authorize(req, m[1], "pull");
      if (denied) return denied;
      return this.#blob(req, m[1], m[2]);
    }
    m = url.pathname.match(/^\/v2\/(.+)\/manifests\/([^/]+)$/);
    if (m) return await this.#manifest(req, m[1], m[2]);
    return errorResponse(404, "NOT_FOUND", "no route");
  }

  /** Undefined when allowed; a 401 otherwise. */
  #authorize(
    req: Request,
    repo: string | undefined,
    action: "pull" | "push",
    extra: string[] = [],
  ): Response | undefined {
    const auth = this.#options.auth;
    if (!auth) return undefined;
    const header = req.headers.get("authorization") ?? "";
    if (auth.kind === "basic") {
      const expected = `Basic ${btoa(`${auth.username}:${auth.password}`)}`;
      if (header === expected) return undefined;
      return new Response(
        JSON.stringify({ errors: [{ code: "UNAUTHORIZED" }] }),
        {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="fake registry"' },
        },
      );
    }
    const scope = repo
      ? `repository:${repo}:${action === "push" ? "pull,push" : "pull"}`
      : "";
    const needed = repo ? [`repository:${repo}:${action}`, ...extra] : [];
    const granted = header.startsWith("Bearer ")
      ? this.#tokens.get(header.slice(7))
      : undefined;
    if (granted && needed.every((n) => grants(granted, n))) return undefined;
    const scheme = this.#options.tls ? "https" : "http";
    let challenge =
      `Bearer realm="${scheme}://${this.host}/token",service="fake"`;
    if (scope) challenge += `,scope="${scope}"`;
    if (granted) challenge += `,error="insufficient_scope"`;
    return new Response(
      JSON.stringify({ errors: [{ code: "UNAUTHORIZED" }] }),
      { status: 401, headers: { "www-authenticate": challenge } },
    );
  }

  #token(req: Request, url: URL): Response {
    const auth = this.#options.auth;
    const authorization = req.headers.get("authorization") ?? "";
    this.tokenRequests.push({ params: url.searchParams, authorization });
    if (auth?.kind !== "bearer") return new Response(null, { status: 404 });
    if (auth.username) {
      const expected = `Basic ${btoa(`${auth.username}:${auth.password}`)}`;
      if (authorization !== expected) {
        return errorResponse(401, "UNAUTHORIZED", "bad credentials");
      }
    }
    const token = `tok${++this.#nextId}`;
    this.#tokens.set(
      token,
      url.searchParams.getAll("scope").filter((scope) =>
        !auth.deny?.includes(scope.split(":")[1])
      ),
    );
    const body: Record<string, unknown> = { token };
    if (auth.expiresIn !== undefined) body.expires_in = auth.expiresIn;
    return Response.json(body);
  }

  #blob(req: Request, repo: string, digest: string): Response {
    const bytes = this.blobs.get(repo)?.get(digest);
    if (!bytes) return errorResponse(404, "BLOB_UNKNOWN", "blob unknown");
    if (req.method === "HEAD") {
      return new Response(null, {
        headers: {
          "content-length": String(bytes.byteLength),
          "docker-content-digest": digest,
          "content-type": "application/octet-stream",
        },
      });
    }
    if (this.#options.redirectBlobs) {
      return new Response(null, {
        status: 307,
        headers: { location: `/storage/${digest}` },
      });
    }
    return this.#serveBlob(req, digest, repo);
  }

  #serveBlob(req: Request, digest: string, repo: string | undefined) {
    let bytes = repo ? this.blobs.get(repo)?.get(digest) : undefined;
    if (!repo) {
      for (const map of this.blobs.values()) bytes ??= map.get(digest);
    }
    if (!bytes) return errorResponse(404, "BLOB_UNKNOWN", "blob unknown");
    bytes = this.corrupt.get(digest) ?? bytes;
    const size = bytes.byteLength;
    let start = 0;
    let status = 200;
    const headers = new Headers({
      "content-type": "application/octet-stream",
      "docker-content-digest": digest,
      "accept-ranges": this.#options.ranges === false ? "none" : "bytes",
    });
    const range = req.headers.get("range")?.match(/^bytes=(\d+)-$/);
    if (range && this.#options.ranges !== false) {
      start = Number(range[1]);
      status = 206;
      headers.set("content-range", `bytes ${start}-${size - 1}/${size}`);
    }
    const body = bytes.subarray(start);
    headers.set("content-length", String(body.byteLength));
    const cut = this.drops.get(digest)?.shift();
    if (cut !== undefined) {
      const part = body.subarray(0, cut);
      return new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(part);
            await new Promise((r) => setTimeout(r, 10));
            controller.close(); // short of content-length: the client sees a broken body
          },
        }),
        { status, headers },
      );
    }
    return new Response(body as BodyInit, { status, headers });
  }

  async #manifest(req: Request, repo: string, ref: string): Promise<Response> {
    if (req.method === "PUT") {
      const denied = this.#authorize(req, repo, "push");
      if (denied) return denied;
      const bytes = new Uint8Array(await req.arrayBuffer());
      const mediaType = req.headers.get("content-type") ?? "";
      const digest = digestOf(bytes);
      if (ref.startsWith("sha256:") && ref !== digest) {
        return errorResponse(400, "DIGEST_INVALID", "digest mismatch");
      }
      this.addManifest(
        repo,
        mediaType,
        bytes,
        ref.startsWith("sha256:") ? undefined : ref,
      );
      return new Response(null, {
        status: 201,
        headers: {
          location: `/v2/${repo}/manifests/${digest}`,
          "docker-content-digest": digest,
        },
      });
    }
    const denied = this.#authorize(req, repo, "pull");
    if (denied) return denied;
    const entry = this.manifests.get(repo)?.get(ref);
    if (!entry) {
      return errorResponse(404, "MANIFEST_UNKNOWN", "manifest unknown");
    }
    const headers = new Headers({
      "content-type": entry.mediaType,
      "content-length": String(entry.bytes.byteLength),
    });
    if (this.#options.digestHeader !== false) {
      headers.set("docker-content-digest", digestOf(entry.bytes));
    }
    return new Response(
      req.method === "HEAD" ? null : entry.bytes as BodyInit,
      {
        headers,
      },
    );
  }

  async #upload(
    req: Request,
    url: URL,
    repo: string,
    id: string,
  ): Promise<Response> {
    const from = url.searchParams.get("from");
    const mount = url.searchParams.get("mount");
    const denied = this.#authorize(
      req,
      repo,
      "push",
      req.method === "POST" && from ? [`repository:${from}:pull`] : [],
    );
    if (denied) return denied;
    if (req.method === "POST") {
      await req.body?.cancel();
      if (mount && from) {
        const bytes = this.blobs.get(from)?.get(mount);
        if (bytes) {
          this.#repoBlobs(repo).set(mount, bytes);
          return new Response(null, {
            status: 201,
            headers: {
              location: `/v2/${repo}/blobs/${mount}`,
              "docker-content-digest": mount,
            },
          });
        }
      }
      const uuid = `u${++this.#nextId}`;
      this.#uploads.set(uuid, { repo, chunks: [], size: 0 });
      return new Response(null, {
        status: 202,
        headers: {
          location: `/v2/${repo}/blobs/uploads/${uuid}?_state=s${uuid}`,
          range: "0-0",
          "docker-upload-uuid": uuid,
        },
      });
    }
    const upload = this.#uploads.get(id);
    if (!upload || upload.repo !== repo) {
      return errorResponse(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown");
    }
    if (req.method === "DELETE") {
      this.#uploads.delete(id);
      return new Response(null, { status: 204 });
    }
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (req.method === "PATCH") {
      const range = req.headers.get("content-range");
      if (range) {
        const [start, end] = range.split("-").map(Number);
        if (start !== upload.size || end !== start + bytes.byteLength - 1) {
          return errorResponse(416, "BLOB_UPLOAD_INVALID", "bad range");
        }
      }
      upload.chunks.push(bytes);
      upload.size += bytes.byteLength;
      return new Response(null, {
        status: 202,
        headers: {
          location: `/v2/${repo}/blobs/uploads/${id}?_state=s${upload.size}`,
          range: `0-${upload.size - 1}`,
        },
      });
    }
    if (req.method === "PUT") {
      upload.chunks.push(bytes);
      const whole = concat(upload.chunks);
      const digest = digestOf(whole);
      if (digest !== url.searchParams.get("digest")) {
        return errorResponse(400, "DIGEST_INVALID", "digest mismatch");
      }
      this.#uploads.delete(id);
      this.#repoBlobs(repo).set(digest, whole);
      return new Response(null, {
        status: 201,
        headers: {
          location: `/v2/${repo}/blobs/${digest}`,
          "docker-content-digest": digest,
        },
      });
    }
    return errorResponse(405, "UNSUPPORTED", "method not allowed");
  }
}

/** True when the granted scopes cover `needed` (`repository:R:ACTION`). */
function grants(granted: string[], needed: string): boolean {
  const [, repo, action] = needed.split(":");
  return granted.some((scope) => {
    const [kind, r, actions] = scope.split(":");
    return kind === "repository" && r === repo &&
      actions.split(",").includes(action);
  });
}
