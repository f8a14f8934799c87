/**
 * {@linkcode RegistryClient}: one object for resolving, fetching and
 * pushing, sharing endpoints, connections and tokens, with a bound on
 * concurrent transfers.
 *
 * @module
 */
import type { Descriptor, Reference } from "../types/mod.ts";
import type { CredentialsCallback } from "./auth.ts";
import { fetchContent, type FetchOptions } from "./fetcher.ts";
import type { RegistryHost } from "./hosts.ts";
import {
  type PushContent,
  pushContent,
  type PushOptions,
  type PushResult,
} from "./pusher.ts";
import { resolve, type Resolved, type ResolveOptions } from "./resolver.ts";
import { RegistrySession } from "./session.ts";

/** Options for {@linkcode RegistryClient}. */
export interface RegistryClientOptions {
  /** containerd-style hosts directory (`/etc/containerd/certs.d`). */
  hostsDir?: string;
  /** Credentials per registry host (`--user`). */
  credentials?: CredentialsCallback;
  /** Plain HTTP for every registry (true), none (false), loopback only (unset). */
  plainHttp?: boolean;
  /** Skip TLS verification unless a hosts file says otherwise. */
  skipVerify?: boolean;
  /** `User-Agent`; default `berth`. */
  userAgent?: string;
  /** Extra headers on every request. */
  headers?: [string, string][];
  /** Blob fetches and pushes running at once; default 3. */
  concurrency?: number;
  /** Largest manifest accepted; default 4 MiB. */
  maxManifestSize?: number;
  /** Blobs larger than this are pushed in chunks; default 64 MiB. */
  chunkThreshold?: number;
  /** Size of pushed chunks; default 16 MiB. */
  chunkSize?: number;
  /** Retries of transient failures per request; default 3. */
  retries?: number;
  /** First pause before a retry, in ms; default 200. */
  retryDelay?: number;
  /** Replaces the hosts directory lookup. */
  hosts?: (domain: string) => RegistryHost[] | Promise<RegistryHost[]>;
}

/** Waits for one of `limit` slots. */
class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = Math.max(1, limit);
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.#waiting = this.#waiting.filter((w) => w !== wake);
          reject(signal?.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/**
 * A registry client: `resolve` a reference, `fetch` its content, `push`
 * content to it.
 *
 * Each open fetch stream holds one of the `concurrency` slots until it is
 * read to the end, errors or is cancelled: read or cancel every stream.
 */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #session: RegistrySession;
  readonly #slots: Semaphore;

  /** Creates a client; nothing is contacted until asked. */
  constructor(options: RegistryClientOptions = {}) {
    this.#options = options;
    this.#session = new RegistrySession(options);
    this.#slots = new Semaphore(options.concurrency ?? 3);
  }

  /** The session under the client, for the lower-level functions. */
  get session(): RegistrySession {
    return this.#session;
  }

  /** Resolves `ref` to its name and root descriptor. */
  resolve(
    ref: string | Reference,
    options: ResolveOptions = {},
  ): Promise<Resolved> {
    return resolve(this.#session, ref, {
      maxManifestSize: this.#options.maxManifestSize,
      ...options,
    });
  }

  /** Opens `descriptor` from `ref`'s repository as a verified stream. */
  async fetch(
    ref: string | Reference,
    descriptor: Descriptor,
    options: FetchOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const release = await this.#slots.acquire(options.signal);
    let stream: ReadableStream<Uint8Array>;
    try {
      stream = await fetchContent(this.#session, ref, descriptor, {
        maxManifestSize: this.#options.maxManifestSize,
        ...options,
      });
    } catch (err) {
      release();
      throw err;
    }
    const reader = stream.getReader();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            release();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (err) {
          release();
          throw err;
        }
      },
      async cancel(reason) {
        release();
        await reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Pushes a blob or a manifest (by media type) to `ref`'s repository; a
   * manifest goes to the reference's tag unless `byDigest`.
   */
  async push(
    ref: string | Reference,
    descriptor: Descriptor,
    content: PushContent,
    options: PushOptions = {},
  ): Promise<PushResult> {
    const release = await this.#slots.acquire(options.signal);
    try {
      return await pushContent(this.#session, ref, descriptor, content, {
        maxManifestSize: this.#options.maxManifestSize,
        chunkThreshold: this.#options.chunkThreshold,
        chunkSize: this.#options.chunkSize,
        ...options,
      });
    } finally {
      release();
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#session.close();
  }

  /** Same as {@linkcode RegistryClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
