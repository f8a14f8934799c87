/**
 * Image references (`host[:port]/path[:tag][@digest]`) parsed and checked
 * against the distribution reference grammar, with Docker Hub's defaults:
 * `busybox` is `docker.io/library/busybox:latest`. Also the forms derived
 * from a reference: the name containerd stores an image under, the short
 * name Docker shows, and a registry token's repository scope.
 *
 * The grammar is checked piece by piece with anchored, backtracking-safe
 * patterns, so a hostile string costs linear time.
 *
 * @module
 */
import { invalidArgument } from "./errors.ts";

/** A parsed, normalized image reference. */
export interface Reference {
  /** Registry host with optional port: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  repository: string;
  /** Tag, when given (or defaulted to `latest`). */
  tag?: string;
  /** Digest, when given: `sha256:…`. */
  digest?: string;
}

/** Options for {@linkcode parseReference}. */
export interface ParseReferenceOptions {
  /**
   * Add the `latest` tag when the reference has neither tag nor digest.
   * Default true.
   */
  defaultTag?: boolean;
}

/** Docker Hub's canonical domain: the registry of a reference without one. */
export const DEFAULT_DOMAIN = "docker.io";
/** Docker Hub's legacy domain, rewritten to {@linkcode DEFAULT_DOMAIN}. */
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
/** The path prefix of Docker Hub's official images. */
const OFFICIAL_REPOSITORY_PREFIX = "library/";
/** The tag used when none is given. */
export const DEFAULT_TAG = "latest";
/** Longest `domain/repository` accepted. */
export const NAME_TOTAL_LENGTH_MAX = 255;
/** Longest input looked at; anything longer cannot be valid. */
const INPUT_LENGTH_MAX = 4096;

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST =
  /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IDENTIFIER = /^[a-f0-9]{64}$/;

function invalid(text: string, reason: string): Error {
  return invalidArgument(
    `reference ${JSON.stringify(text)} is not valid: ${reason}`,
  );
}

/**
 * Parses and normalizes a reference. A tag is kept alongside a digest.
 *
 * @throws {BerthError} InvalidArgument with the reason
 * (`reference "Foo" is not valid: repository name must be lowercase`).
 */
export function parseReference(
  text: string,
  options: ParseReferenceOptions = {},
): Reference {
  if (text.length === 0) {
    throw invalid(text, "repository name must have at least one component");
  }
  if (text.length > INPUT_LENGTH_MAX) {
    throw invalid(
      text.slice(0, 64) + "…",
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  if (IDENTIFIER.test(text)) {
    throw invalid(
      text,
      "cannot specify 64-byte hexadecimal strings as a repository name",
    );
  }
  if (text.includes("://")) {
    throw invalid(text, 'a reference has no scheme (drop the "…://")');
  }

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(text, "invalid digest format");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(text, "invalid tag format");
  }
  if (rest.length === 0) {
    throw invalid(text, "repository name must have at least one component");
  }

  let { domain, repository } = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw invalid(text, "invalid domain");
  if (repository.length === 0) {
    throw invalid(text, "repository name must have at least one component");
  }
  for (const component of repository.split("/")) {
    if (NAME_COMPONENT.test(component)) continue;
    if (NAME_COMPONENT.test(component.toLowerCase())) {
      throw invalid(text, "repository name must be lowercase");
    }
    throw invalid(
      text,
      `invalid reference format: path component ${
        JSON.stringify(component)
      } must match [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`,
    );
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !repository.includes("/")) {
    repository = OFFICIAL_REPOSITORY_PREFIX + repository;
  }
  if (domain.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(
      text,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  if (
    tag === undefined && digest === undefined && options.defaultTag !== false
  ) {
    tag = DEFAULT_TAG;
  }
  const ref: Reference = { domain, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Splits `name` into domain and path the way Docker does: the first
 * component is a domain only when it has a `.` or `:` (IPv6 literals and
 * ports included), or is `localhost`. An upper-case first component is left
 * in the path, where it fails as not lowercase.
 */
function splitDomain(name: string): { domain: string; repository: string } {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== "localhost")) {
    return { domain: DEFAULT_DOMAIN, repository: name };
  }
  return { domain: first, repository: name.slice(slash + 1) };
}

/** `domain/repository`: the name without tag or digest. */
export function referenceName(ref: Reference): string {
  return `${ref.domain}/${ref.repository}`;
}

/** The full normalized string: `docker.io/library/busybox:latest`. */
export function formatReference(ref: Reference): string {
  let text = referenceName(ref);
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}

/**
 * The name containerd gives an image for `text`: full form, `:latest` when
 * neither tag nor digest, and only the digest when both.
 *
 * @throws {BerthError} InvalidArgument for a malformed reference.
 */
export function normalizeReference(text: string): string {
  const ref = parseReference(text);
  if (ref.digest !== undefined) delete ref.tag;
  return formatReference(ref);
}

/** `ref` itself, or parsed without a default tag. */
function asReference(ref: Reference | string): Reference {
  return typeof ref === "string"
    ? parseReference(ref, { defaultTag: false })
    : ref;
}

/**
 * The short name Docker shows: `docker.io/library/busybox` is `busybox`,
 * `docker.io/foo/bar` is `foo/bar`; other registries keep their domain.
 * A string is parsed without a default tag.
 */
export function familiarName(ref: Reference | string): string {
  const parsed = asReference(ref);
  if (parsed.domain !== DEFAULT_DOMAIN) return referenceName(parsed);
  const path = parsed.repository;
  if (
    path.startsWith(OFFICIAL_REPOSITORY_PREFIX) &&
    !path.slice(OFFICIAL_REPOSITORY_PREFIX.length).includes("/")
  ) {
    return path.slice(OFFICIAL_REPOSITORY_PREFIX.length);
  }
  return path;
}

/**
 * The familiar name with tag and digest: `busybox:latest`. A string is
 * parsed without a default tag; pass `parseReference(text)` to add
 * `:latest` to a name that has neither tag nor digest, as Docker archives
 * name images.
 */
export function familiarString(ref: Reference | string): string {
  const parsed = asReference(ref);
  let text = familiarName(parsed);
  if (parsed.tag !== undefined) text += `:${parsed.tag}`;
  if (parsed.digest !== undefined) text += `@${parsed.digest}`;
  return text;
}

/**
 * The token scope for a repository:
 * `repository:library/busybox:pull` or `…:pull,push`.
 */
export function repositoryScope(repository: string, push = false): string {
  return `repository:${repository}:${push ? "pull,push" : "pull"}`;
}
