/**
 * Content digests (`algorithm:hex`), validated as the OCI go-digest package
 * does. Only sha256 is supported; a digest never becomes a path component
 * before it passes {@linkcode validateDigest}.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "../types/mod.ts";

/** The only algorithm the store supports. */
export const DIGEST_ALGORITHM = "sha256";

/** A valid, supported digest: `sha256:` and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** Any well-formed digest, whatever its algorithm. */
const ANY_DIGEST_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The hex part of a sha256 digest. */
const SHA256_HEX_PATTERN = /^[a-f0-9]{64}$/;

/**
 * Throws InvalidArgument unless `digest` is a valid sha256 digest. Messages
 * say why: `"sha256:xyz" failed validation: invalid checksum digest length`.
 */
export function validateDigest(digest: string): void {
  const reason = digestProblem(digest);
  if (reason) {
    throw invalidArgument(
      `${JSON.stringify(digest)} failed validation: ${reason}`,
    );
  }
}

/** Why `digest` is not acceptable, or undefined when it is. */
function digestProblem(digest: string): string | undefined {
  if (DIGEST_PATTERN.test(digest)) return undefined;
  const sep = digest.indexOf(":");
  if (sep <= 0 || sep === digest.length - 1) {
    return "invalid checksum digest format";
  }
  const algorithm = digest.slice(0, sep);
  const encoded = digest.slice(sep + 1);
  if (algorithm !== DIGEST_ALGORITHM) {
    return ANY_DIGEST_PATTERN.test(digest)
      ? "unsupported digest algorithm"
      : "invalid checksum digest format";
  }
  if (encoded.length !== 64) return "invalid checksum digest length";
  if (!SHA256_HEX_PATTERN.test(encoded)) {
    return "invalid checksum digest format";
  }
  return undefined;
}

/** The hex part of a valid digest; throws InvalidArgument otherwise. */
export function digestHex(digest: string): string {
  validateDigest(digest);
  return digest.slice(DIGEST_ALGORITHM.length + 1);
}

/** The sha256 digest of `data` (strings are hashed as UTF-8). */
export function digestOf(data: Uint8Array | string): string {
  return `${DIGEST_ALGORITHM}:${
    createHash("sha256").update(data).digest("hex")
  }`;
}
