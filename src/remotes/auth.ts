/**
 * Registry authorization: `WWW-Authenticate` challenges, the Bearer token
 * flow (`GET realm?service=…&scope=repository:REPO:pull`, with Basic
 * credentials when there are some, tokens cached per scope set until they
 * expire) and Basic auth. Credentials come from a callback per host.
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";
import { statusCode } from "./errors.ts";
import type { TransportRequest } from "./transport.ts";

/** A username and password (or an identity token with an empty username). */
export interface Credentials {
  /** The username; empty when `password` is an identity (refresh) token. */
  username: string;
  /** The password or token. */
  password: string;
}

/** Credentials for a registry host (`host[:port]`), or none. */
export type CredentialsCallback = (
  host: string,
) => Credentials | undefined | Promise<Credentials | undefined>;

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** The scheme, lowercased: `bearer`, `basic`, … */
  scheme: string;
  /** Its parameters, names lowercased: `realm`, `service`, `scope`, … */
  parameters: Record<string, string>;
}

/** Sends one request on behalf of the authorizer (for token requests). */
export type Send = (url: URL, request: TransportRequest) => Promise<Response>;

/** What {@linkcode Authorizer.handleChallenge} decided. */
export interface ChallengeResult {
  /** True when retrying the request with fresh authorization may succeed. */
  retry: boolean;
  /** Scopes the challenge asked for, to add to the retried request's. */
  scopes: string[];
}

/** Options for {@linkcode Authorizer}. */
export interface AuthorizerOptions {
  /** Credentials per host; anonymous when absent or undefined. */
  credentials?: CredentialsCallback;
  /** `User-Agent` of token requests. */
  userAgent?: string;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
  /** `client_id` of OAuth2 token requests. */
  clientId?: string;
}

/** Lifetime of a token whose response says none (the spec's minimum). */
const DEFAULT_TOKEN_SECONDS = 60;

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` value, which may hold several challenges
 * (Deno joins repeated headers with `, `).
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i])) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && TOKEN_CHAR.test(header[i])) i++;
    return header.slice(start, i);
  };
  const value = () => {
    if (header[i] !== '"') {
      // Lenient: an unquoted value runs to the next comma or space.
      const start = i;
      while (i < header.length && !/[\s,]/.test(header[i])) i++;
      return header.slice(start, i);
    }
    let out = "";
    for (i++; i < header.length; i++) {
      const c = header[i];
      if (c === "\\" && i + 1 < header.length) out += header[++i];
      else if (c === '"') {
        i++;
        return out;
      } else out += c;
    }
    return out;
  };
  let current: Challenge | undefined;
  while (i < header.length) {
    skip(/[\s,]/);
    const start = i;
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    skip(/[ \t]/);
    if (header[i] === "=" && current) {
      i++;
      skip(/[ \t]/);
      current.parameters[name.toLowerCase()] = value();
      continue;
    }
    if (header[i] === "=" && !current) {
      // A parameter with no scheme before it: skip it.
      i++;
      value();
      continue;
    }
    i = start + name.length;
    current = { scheme: name.toLowerCase(), parameters: {} };
    challenges.push(current);
  }
  return challenges;
}

interface TokenEntry {
  promise: Promise<string>;
  /** Undefined while the token is being fetched. */
  expiresAt?: number;
  value?: string;
}

type Handler =
  | { kind: "basic"; header: string }
  | {
    kind: "bearer";
    realm: string;
    service?: string;
    tokens: Map<string, TokenEntry>;
  };

/**
 * Authorizes requests per host after the host challenged one: Basic with
 * the host's credentials, or a Bearer token for the request's scopes.
 */
export class Authorizer {
  #handlers = new Map<string, Handler>();
  #options: AuthorizerOptions;

  /** Creates an authorizer; nothing is authorized before a challenge. */
  constructor(options: AuthorizerOptions = {}) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /**
   * The `Authorization` value for a request to `host` needing `scopes`, or
   * undefined when the host never challenged. Fetches (and caches) a token
   * when needed, through `send`.
   */
  async authorize(
    host: string,
    scopes: string[],
    send: Send,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const handler = this.#handlers.get(host);
    if (!handler) return undefined;
    if (handler.kind === "basic") return handler.header;
    const wanted = [...new Set(scopes)].sort();
    const key = wanted.join(" ");
    const cached = handler.tokens.get(key);
    if (
      cached &&
      (cached.expiresAt === undefined || cached.expiresAt > this.#now())
    ) {
      return await cached.promise;
    }
    const fetched = this.#fetchToken(host, handler, wanted, send, signal);
    const entry: TokenEntry = {
      promise: fetched.then(({ token, seconds }) => {
        const lifetime = seconds * 1000;
        entry.expiresAt = this.#now() + lifetime -
          Math.min(10_000, lifetime / 10);
        entry.value = `Bearer ${token}`;
        return entry.value;
      }),
    };
    handler.tokens.set(key, entry);
    try {
      return await entry.promise;
    } catch (err) {
      if (handler.tokens.get(key) === entry) handler.tokens.delete(key);
      throw err;
    }
  }

  /**
   * Takes in a 401 response from `host` for a request that carried
   * `sentAuthorization` (if any). Sets up Bearer or Basic authorization and
   * says whether a retry can help: not when the credentials or token the
   * request carried were refused.
   */
  async handleChallenge(
    host: string,
    headers: Headers,
    sentAuthorization?: string,
  ): Promise<ChallengeResult> {
    const challenges = parseWwwAuthenticate(
      headers.get("www-authenticate") ?? "",
    );
    const bearer = challenges.find((c) =>
      c.scheme === "bearer" && c.parameters.realm
    );
    if (bearer) {
      const scopes = (bearer.parameters.scope ?? "").split(" ").filter(Boolean);
      const existing = this.#handlers.get(host);
      if (sentAuthorization && existing?.kind === "bearer") {
        for (const [key, entry] of existing.tokens) {
          if (entry.value === sentAuthorization) existing.tokens.delete(key);
        }
        // The server looked at the token and refused it.
        if (bearer.parameters.error) return { retry: false, scopes };
      }
      let realm: URL;
      try {
        realm = new URL(bearer.parameters.realm);
      } catch {
        return { retry: false, scopes };
      }
      if (realm.protocol !== "https:" && realm.protocol !== "http:") {
        return { retry: false, scopes };
      }
      this.#handlers.set(host, {
        kind: "bearer",
        realm: realm.href,
        service: bearer.parameters.service,
        tokens: existing?.kind === "bearer" ? existing.tokens : new Map(),
      });
      return { retry: true, scopes };
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      if (sentAuthorization?.startsWith("Basic ")) {
        return { retry: false, scopes: [] };
      }
      const creds = await this.#options.credentials?.(host);
      if (!creds?.username || !creds.password) {
        return { retry: false, scopes: [] };
      }
      const header = `Basic ${
        encodeBase64(`${creds.username}:${creds.password}`)
      }`;
      this.#handlers.set(host, { kind: "basic", header });
      return { retry: true, scopes: [] };
    }
    return { retry: false, scopes: [] };
  }

  /** Fetches a token and its lifetime in seconds. */
  async #fetchToken(
    host: string,
    handler: Extract<Handler, { kind: "bearer" }>,
    scopes: string[],
    send: Send,
    signal?: AbortSignal,
  ): Promise<{ token: string; seconds: number }> {
    const creds = await this.#options.credentials?.(host);
    const headers = new Headers({ accept: "application/json" });
    if (this.#options.userAgent) {
      headers.set("user-agent", this.#options.userAgent);
    }
    const url = new URL(handler.realm);
    let request: TransportRequest;
    const refreshToken = creds && !creds.username && creds.password;
    if (refreshToken) {
      const form = new URLSearchParams();
      form.set("grant_type", "refresh_token");
      form.set("refresh_token", creds.password);
      if (handler.service) form.set("service", handler.service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      form.set("client_id", this.#options.clientId ?? "berth");
      headers.set(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
      );
      request = {
        method: "POST",
        headers,
        body: new TextEncoder().encode(form.toString()),
        signal,
      };
    } else {
      if (handler.service) url.searchParams.append("service", handler.service);
      for (const scope of scopes) url.searchParams.append("scope", scope);
      if (creds?.username && creds.password) {
        headers.set(
          "authorization",
          `Basic ${encodeBase64(`${creds.username}:${creds.password}`)}`,
        );
      }
      request = { method: "GET", headers, signal };
    }
    const kind = creds?.password ? "" : "anonymous ";
    let response: Response;
    try {
      response = await send(url, request);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new BerthError(
        Code.Unavailable,
        `failed to fetch ${kind}token from ${handler.realm}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel().catch(() => {});
      const code = statusCode(response.status);
      throw new BerthError(
        code === Code.NotFound || code === Code.InvalidArgument
          ? Code.Unauthenticated
          : code,
        `failed to fetch ${kind}token from ${handler.realm}: unexpected status ${response.status}`,
      );
    }
    let doc: Record<string, unknown>;
    try {
      doc = await response.json();
    } catch (err) {
      throw new BerthError(
        Code.Unauthenticated,
        `failed to fetch ${kind}token from ${handler.realm}: unable to decode token response`,
        { cause: err },
      );
    }
    const token = typeof doc.access_token === "string" && doc.access_token
      ? doc.access_token
      : doc.token;
    if (typeof token !== "string" || !token) {
      throw new BerthError(
        Code.Unauthenticated,
        `failed to fetch ${kind}token from ${handler.realm}: authorization server did not include a token in the response`,
      );
    }
    const seconds = typeof doc.expires_in === "number" && doc.expires_in > 0
      ? doc.expires_in
      : DEFAULT_TOKEN_SECONDS;
    return { token, seconds };
  }
}

function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
