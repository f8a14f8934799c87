/**
 * Image references as Docker writes them (`busybox`, `busybox:1.36`,
 * `ghcr.io/a/b@sha256:…`), normalised to the full form containerd names
 * images by (`docker.io/library/busybox:latest`) and shortened back for
 * Docker archives; plus the short `org.opencontainers.image.ref.name` of an
 * OCI layout, and the translators `ctr images import` applies to it.
 *
 * @module
 */
import { invalidArgument } from "../types/mod.ts";

/** A parsed, normalised reference. */
export interface Reference {
  /** Registry host, with port: `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path: `library/busybox`. */
  path: string;
  /** Tag, if any. */
  tag?: string;
  /** Digest, if any. */
  digest?: string;
}

/** The registry that references without a domain name. */
export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DOMAIN = "index.docker.io";
const OFFICIAL_PREFIX = "library/";
const MAX_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN =
  `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST =
  "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const HEX64 = /^[a-f0-9]{64}$/;

/** Splits `name` into a domain (default docker.io) and the rest. */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf("/");
  let domain: string;
  let rest: string;
  const first = slash === -1 ? "" : name.slice(0, slash);
  if (
    slash === -1 ||
    (!/[.:]/.test(first) && first !== "localhost" &&
      first.toLowerCase() === first)
  ) {
    domain = DEFAULT_DOMAIN;
    rest = name;
  } else {
    domain = first;
    rest = name.slice(slash + 1);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes("/")) {
    rest = OFFICIAL_PREFIX + rest;
  }
  return [domain, rest];
}

/**
 * Parses a reference as Docker does, completing it: `busybox` →
 * docker.io/library/busybox. A tag is kept alongside a digest here.
 *
 * @throws {BerthError} InvalidArgument for a malformed reference.
 */
export function parseReference(text: string): Reference {
  const quoted = JSON.stringify(text);
  if (HEX64.test(text)) {
    throw invalidArgument(
      `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [domain, rest] = splitDomain(text);
  const remote = rest.split(/[:@]/)[0];
  if (remote.toLowerCase() !== remote) {
    throw invalidArgument(
      `${quoted}: invalid reference format: repository name must be lowercase`,
    );
  }
  const match = REFERENCE.exec(`${domain}/${rest}`);
  if (!match) throw invalidArgument(`${quoted}: invalid reference format`);
  const name = match[1];
  if (name.length > MAX_NAME_LENGTH) {
    throw invalidArgument(
      `${quoted}: repository name must not be more than ${MAX_NAME_LENGTH} characters`,
    );
  }
  const ref: Reference = { domain, path: name.slice(domain.length + 1) };
  if (match[2]) ref.tag = match[2];
  if (match[3]) ref.digest = match[3];
  return ref;
}

/** The full form of a reference: `domain/path[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  let out = `${ref.domain}/${ref.path}`;
  if (ref.tag) out += `:${ref.tag}`;
  if (ref.digest) out += `@${ref.digest}`;
  return out;
}

/**
 * The name containerd gives an image for `text`: full form, `:latest` when
 * neither tag nor digest, and only the digest when both.
 */
export function normalizeReference(text: string): string {
  const ref = parseReference(text);
  if (ref.digest) delete ref.tag;
  else if (!ref.tag) ref.tag = "latest";
  return formatReference(ref);
}

/**
 * The short form Docker shows (`busybox:latest`, `ghcr.io/a/b:1`), with
 * `:latest` added when neither tag nor digest.
 */
export function familiarReference(text: string): string {
  const ref = parseReference(text);
  if (!ref.tag && !ref.digest) ref.tag = "latest";
  let name = `${ref.domain}/${ref.path}`;
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path;
    const short = name.slice(OFFICIAL_PREFIX.length);
    if (name.startsWith(OFFICIAL_PREFIX) && !short.includes("/")) name = short;
  }
  if (ref.tag) name += `:${ref.tag}`;
  if (ref.digest) name += `@${ref.digest}`;
  return name;
}

/**
 * The `org.opencontainers.image.ref.name` for image `name`: what follows
 * the repository (`latest`, or `@sha256:…`), as containerd computes it;
 * `name` itself when it has no host part.
 */
export function ociReferenceName(name: string): string {
  if (name.includes("://")) return name;
  const slash = name.indexOf("/");
  if (slash === -1) {
    // A bare host (`host` or `host:port`) has no object; anything else
    // after a colon would not parse as a host.
    return /^[^:@]*(?::\d*)?$/.test(name) || /^[^@]*@[^:]*(?::\d*)?$/.test(name)
      ? ""
      : name;
  }
  const path = name.slice(slash);
  const sep = path.search(/[:@]/);
  if (sep === -1) return "";
  const object = path.slice(sep);
  return object.startsWith(":") ? object.slice(1) : object;
}

/**
 * A translator of OCI ref names into image names, as
 * `ctr images import --base-name` uses: a bare name (no `/`, `:` or `@`)
 * becomes `prefix:name`; a full one stays.
 */
export function addRefPrefix(prefix: string): (ref: string) => string {
  return (ref) => /[/:@]/.test(ref) ? ref : `${prefix}:${ref}`;
}

/**
 * Like {@linkcode addRefPrefix}, but a full name is kept only when it
 * belongs to `prefix` (is `prefix`, or `prefix` followed by `/`, `:`, `@`).
 */
export function filterRefPrefix(prefix: string): (ref: string) => string {
  return (ref) => {
    if (!/[/:@]/.test(ref)) return `${prefix}:${ref}`;
    if (!ref.startsWith(prefix)) return "";
    const next = ref[prefix.length];
    return next === undefined || "/:@".includes(next) ? ref : "";
  };
}
