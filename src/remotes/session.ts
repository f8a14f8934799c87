/**
 * Requests to registry endpoints: the hosts of a registry (from the hosts
 * directory), one transport per TLS setting, authorization on challenge,
 * redirects followed by hand (credentials never follow to another host),
 * and bounded retries with backoff on transient failures (5xx, 408, 429,
 * connection errors).
 *
 * @module
 */
import { sleep } from "./_sleep.ts";
import { BerthError, Code, type Reference } from "../types/mod.ts";
import { Authorizer, type CredentialsCallback } from "./auth.ts";
import { discard, isTransientStatus } from "./errors.ts";
import { loadRegistryHosts, type RegistryHost } from "./hosts.ts";
import { createTransport, type Transport } from "./transport.ts";

/** Options for {@linkcode RegistrySession}. */
export interface SessionOptions {
  /** The hosts directory (`certs.d` layout); none by default. */
  hostsDir?: string;
  /** Plain HTTP for every default endpoint (true), none (false), or loopback only (unset). */
  plainHttp?: boolean;
  /** Skip TLS verification unless a hosts file says otherwise. */
  skipVerify?: boolean;
  /** Credentials per registry host. */
  credentials?: CredentialsCallback;
  /** `User-Agent` header; default `berth`. */
  userAgent?: string;
  /** Extra headers on every request. */
  headers?: [string, string][];
  /** Retries of a transient failure; default 3. */
  retries?: number;
  /** First pause before a retry, in ms, doubling each time; default 200. */
  retryDelay?: number;
  /** Longest pause before a retry, in ms; default 5000. */
  maxRetryDelay?: number;
  /** Redirects followed per request; default 10. */
  maxRedirects?: number;
  /** Replaces the hosts directory lookup. */
  hosts?: (domain: string) => RegistryHost[] | Promise<RegistryHost[]>;
}

/** A request for {@linkcode RegistrySession.send}. */
export interface SessionRequest {
  /** HTTP method. */
  method: string;
  /** Where to (usually from {@linkcode RegistrySession.url}). */
  url: URL;
  /** Request headers. */
  headers?: HeadersInit;
  /**
   * The body: bytes, or a function opening a stream (called once per
   * attempt).
   */
  body?: Uint8Array | (() => ReadableStream<Uint8Array>);
  /** Token scopes the request needs (`repository:REPO:pull`). */
  scopes: string[];
  /** Aborts the request. */
  signal?: AbortSignal;
  /** Overrides the session's retry count (0 for one-shot bodies). */
  retries?: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Repeated 401s handled per request before giving up. */
const MAX_AUTH_ROUNDS = 3;

/** Sends requests to a registry's endpoints; share one per client. */
export class RegistrySession {
  readonly #options: SessionOptions;
  readonly #authorizer: Authorizer;
  readonly #hosts = new Map<string, Promise<RegistryHost[]>>();
  readonly #transports = new Map<string, Promise<Transport>>();
  readonly #headers: [string, string][];

  /** Creates a session; nothing is contacted until a request. */
  constructor(options: SessionOptions = {}) {
    this.#options = options;
    const userAgent = options.userAgent ?? "berth";
    this.#authorizer = new Authorizer({
      credentials: options.credentials,
      userAgent,
    });
    this.#headers = [["user-agent", userAgent], ...(options.headers ?? [])];
  }

  /** The endpoints of registry `domain`, in the order to try them. */
  hosts(domain: string): Promise<RegistryHost[]> {
    let hosts = this.#hosts.get(domain);
    if (!hosts) {
      hosts = Promise.resolve(
        this.#options.hosts
          ? this.#options.hosts(domain)
          : loadRegistryHosts(domain, this.#options),
      );
      hosts.catch(() => this.#hosts.delete(domain));
      this.#hosts.set(domain, hosts);
    }
    return hosts;
  }

  /**
   * `SCHEME://HOST/v2/REPO/PARTS…`, with `?ns=DOMAIN` when the endpoint is
   * a mirror of another registry, as containerd sends it.
   */
  url(host: RegistryHost, ref: Reference, ...parts: string[]): URL {
    const path = [host.path.replace(/\/+$/, ""), ref.repository, ...parts]
      .join("/");
    const url = new URL(`${host.scheme}://${host.host}${path}`);
    const official = ref.domain === "docker.io" &&
      host.host === "registry-1.docker.io";
    if (host.host !== ref.domain && !official) {
      url.searchParams.set("ns", ref.domain);
    }
    return url;
  }

  /**
   * Sends `request` to `host`, authorizing, following redirects and
   * retrying transient failures. Returns the final response, whatever its
   * status; throws Unavailable when the endpoint cannot be reached.
   */
  async send(host: RegistryHost, request: SessionRequest): Promise<Response> {
    const transport = await this.#transport(host);
    const retries = request.retries ?? this.#options.retries ?? 3;
    const signal = request.signal;
    let scopes = [...request.scopes];
    let method = request.method;
    let attempt = 0;
    let authRounds = 0;
    const sendForAuth = (url: URL, init: Parameters<Transport["send"]>[1]) =>
      transport.send(url, init);
    for (;;) {
      signal?.throwIfAborted();
      const headers = new Headers();
      for (const [key, value] of this.#headers) headers.append(key, value);
      for (const [key, value] of host.headers) headers.append(key, value);
      new Headers(request.headers).forEach((value, key) =>
        headers.set(key, value)
      );
      let authorization: string | undefined;
      if (request.url.host === host.host) {
        authorization = await this.#authorizer.authorize(
          host.host,
          scopes,
          sendForAuth,
          signal,
        );
        if (authorization) headers.set("authorization", authorization);
      }
      let response: Response;
      try {
        response = await this.#follow(transport, request.url, {
          method,
          headers,
          body: typeof request.body === "function"
            ? request.body()
            : request.body,
          signal,
        });
      } catch (err) {
        if (signal?.aborted || err instanceof BerthError) throw err;
        if (attempt < retries) {
          await this.#pause(++attempt, undefined, signal);
          continue;
        }
        throw new BerthError(
          Code.Unavailable,
          `${method} ${request.url}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (response.status === 401 && authRounds < MAX_AUTH_ROUNDS) {
        const result = await this.#authorizer.handleChallenge(
          host.host,
          response.headers,
          authorization,
        );
        if (result.retry) {
          authRounds++;
          scopes = [...new Set([...scopes, ...result.scopes])];
          await discard(response);
          continue;
        }
        return response;
      }
      if (
        response.status === 405 && method === "HEAD" &&
        request.url.pathname.includes("/manifests/")
      ) {
        // Registries without HEAD on manifests.
        method = "GET";
        await discard(response);
        continue;
      }
      if (isTransientStatus(response.status) && attempt < retries) {
        await discard(response);
        await this.#pause(++attempt, retryAfter(response), signal);
        continue;
      }
      return response;
    }
  }

  /** Sends, following redirects; the Authorization stays on its host. */
  async #follow(
    transport: Transport,
    start: URL,
    init: Parameters<Transport["send"]>[1],
  ): Promise<Response> {
    const max = this.#options.maxRedirects ?? 10;
    let url = start;
    let { method, body } = init;
    const headers = new Headers(init.headers);
    for (let hops = 0;; hops++) {
      const response = await transport.send(url, {
        method,
        headers,
        body,
        signal: init.signal,
      });
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || !location) {
        return response;
      }
      await discard(response);
      if (hops >= max) {
        throw new BerthError(
          Code.Unavailable,
          `${init.method} ${start}: stopped after ${max} redirects`,
        );
      }
      const next = new URL(location, url);
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new BerthError(
          Code.Unavailable,
          `${init.method} ${start}: redirect to unsupported URL ${next.protocol}`,
        );
      }
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) &&
          method === "POST")
      ) {
        if (method !== "HEAD") method = "GET";
        body = undefined;
        headers.delete("content-type");
      }
      if (next.host !== url.host || next.protocol !== url.protocol) {
        headers.delete("authorization");
      }
      url = next;
    }
  }

  async #pause(
    attempt: number,
    hinted: number | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const base = this.#options.retryDelay ?? 200;
    const max = this.#options.maxRetryDelay ?? 5000;
    const delay = Math.min(max, hinted ?? base * 2 ** (attempt - 1));
    await sleep(delay, signal);
  }

  #transport(host: RegistryHost): Promise<Transport> {
    const key = JSON.stringify([
      host.caCerts,
      host.clientCerts,
      host.skipVerify && host.scheme === "https",
    ]);
    let transport = this.#transports.get(key);
    if (!transport) {
      transport = openTransport(host);
      transport.catch(() => this.#transports.delete(key));
      this.#transports.set(key, transport);
    }
    return transport;
  }

  /** Closes pooled connections and clients. */
  close(): void {
    for (const transport of this.#transports.values()) {
      transport.then((t) => t.close(), () => {});
    }
    this.#transports.clear();
  }
}

async function openTransport(host: RegistryHost): Promise<Transport> {
  const read = async (path: string, what: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw new BerthError(
        Code.FailedPrecondition,
        `registry host ${host.host}: unable to read ${what} ${
          JSON.stringify(path)
        }: ${(err as Error).message}`,
        { cause: err },
      );
    }
  };
  const caCerts = await Promise.all(
    host.caCerts.map((path) => read(path, "CA certificate")),
  );
  const pair = host.clientCerts[0];
  const cert = pair ? await read(pair.cert, "client certificate") : undefined;
  const key = pair?.key ? await read(pair.key, "client key") : cert;
  return createTransport({
    caCerts,
    cert,
    key,
    skipVerify: host.skipVerify && host.scheme === "https",
  });
}

/** Milliseconds a `Retry-After` header asks for, when it is sensible. */
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
