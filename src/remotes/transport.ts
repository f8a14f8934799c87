/**
 * One HTTP exchange with a registry endpoint, without following redirects:
 * `fetch` with the system CAs (plus per-host CAs and a client certificate
 * through `Deno.createHttpClient`), or `node:https` with
 * `rejectUnauthorized: false` when the host says `skip_verify`, since
 * Deno's `fetch` cannot turn verification off per client.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

/** What {@linkcode Transport.send} sends. */
export interface TransportRequest {
  /** HTTP method. */
  method: string;
  /** Request headers. */
  headers: Headers;
  /** The body; a stream is sent chunked. */
  body?: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Aborts the exchange. */
  signal?: AbortSignal;
}

/** Sends one request; redirects come back as 3xx responses. */
export interface Transport {
  /** Sends `request` to `url`. */
  send(url: URL, request: TransportRequest): Promise<Response>;
  /** Releases pooled connections. */
  close(): void;
}

/** TLS settings of a transport. */
export interface TransportOptions {
  /** Extra CA certificates (PEM text), added to the system ones. */
  caCerts?: string[];
  /** A client certificate (PEM text). */
  cert?: string;
  /** The client certificate's key (PEM text). */
  key?: string;
  /** Do not verify the server's certificate. */
  skipVerify?: boolean;
}

/** A transport with the given TLS settings. */
export function createTransport(options: TransportOptions = {}): Transport {
  if (options.skipVerify) return nodeTransport(options);
  let client: Deno.HttpClient | undefined;
  if (options.caCerts?.length || options.cert) {
    client = Deno.createHttpClient({
      caCerts: options.caCerts ?? [],
      ...(options.cert ? { cert: options.cert, key: options.key ?? "" } : {}),
    });
  }
  return {
    send(url, request) {
      return fetch(url, {
        method: request.method,
        headers: request.headers,
        body: (request.body ?? undefined) as BodyInit | undefined,
        redirect: "manual",
        signal: request.signal,
        client,
      });
    },
    close() {
      client?.close();
    },
  };
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** A transport over node:http(s), for what `fetch` cannot do. */
function nodeTransport(options: TransportOptions): Transport {
  const agent = new https.Agent({
    keepAlive: true,
    rejectUnauthorized: !options.skipVerify,
    ca: options.caCerts?.length ? options.caCerts : undefined,
    cert: options.cert,
    key: options.key ?? options.cert,
  });
  return {
    send(url, request) {
      const secure = url.protocol === "https:";
      const headers: Record<string, string> = {};
      request.headers.forEach((value, key) => headers[key] = value);
      if (request.body instanceof Uint8Array) {
        headers["content-length"] = String(request.body.byteLength);
      } else if (request.body) {
        headers["transfer-encoding"] = "chunked";
      } else if (!["GET", "HEAD", "DELETE"].includes(request.method)) {
        headers["content-length"] = "0";
      }
      return new Promise<Response>((resolve, reject) => {
        const req = (secure ? https : http).request(url, {
          method: request.method,
          headers,
          agent: secure ? agent : undefined,
          signal: request.signal,
        }, (res) => {
          const status = res.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            responseHeaders.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          }
          const noBody = request.method === "HEAD" ||
            NULL_BODY_STATUSES.has(status);
          if (noBody) res.resume();
          const body = noBody
            ? null
            : Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
          resolve(
            new Response(body, {
              status,
              statusText: res.statusMessage ?? "",
              headers: responseHeaders,
            }),
          );
        });
        req.on(
          "error",
          (err) => reject(new TypeError(err.message, { cause: err })),
        );
        if (request.body instanceof Uint8Array) {
          req.end(request.body);
        } else if (request.body) {
          writeStream(req, request.body).catch((err) => req.destroy(err));
        } else {
          req.end();
        }
      });
    },
    close() {
      agent.destroy();
    },
  };
}

async function writeStream(
  req: http.ClientRequest,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  for await (const chunk of body) {
    if (!req.write(chunk)) {
      await new Promise((resolve) => req.once("drain", resolve));
    }
  }
  req.end();
}
