/**
 * Registry responses turned into {@linkcode BerthError}s: 404 is NotFound,
 * 401 Unauthenticated, 403 PermissionDenied, 5xx/408/429 Unavailable; the
 * message names what was asked and the registry's own error codes
 * (`MANIFEST_UNKNOWN: manifest unknown`).
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";

/** Largest error body read for its message. */
const ERROR_BODY_MAX = 64 * 1024;

/** The gRPC code for an HTTP status from a registry. */
export function statusCode(status: number): Code {
  if (status === 404) return Code.NotFound;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 400) return Code.InvalidArgument;
  if (status === 405) return Code.Unimplemented;
  if (status === 409 || status === 412 || status === 416) {
    return Code.FailedPrecondition;
  }
  if (status === 408 || status === 429 || status >= 500) {
    return Code.Unavailable;
  }
  return Code.Unknown;
}

/** True for statuses worth retrying after a pause. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 ||
    status === 502 || status === 503 || status === 504;
}

/**
 * An error for an unexpected response; reads (a bounded part of) the body
 * for the registry's error list, and releases the body.
 */
export async function responseError(
  subject: string,
  response: Response,
): Promise<BerthError> {
  const detail = await registryErrors(response);
  const status = `${response.status}${
    response.statusText ? " " + response.statusText : ""
  }`;
  return new BerthError(
    statusCode(response.status),
    `${subject}: unexpected status ${status}${detail ? ": " + detail : ""}`,
  );
}

/** `CODE: message` of each error in a registry's JSON error body. */
async function registryErrors(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_MAX) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken error body only loses the detail.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    const errors = Array.isArray(doc?.errors) ? doc.errors : [];
    return errors
      .map((e: { code?: unknown; message?: unknown }) =>
        [e?.code, e?.message].filter((p) => typeof p === "string" && p).join(
          ": ",
        )
      )
      .filter(Boolean)
      .join("; ");
  } catch {
    return "";
  }
}

/** Discards a response's body so its connection can be reused. */
export async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to release.
  }
}
