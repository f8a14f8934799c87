/**
 * The names of images in image archives: the short
 * `org.opencontainers.image.ref.name` of an OCI image layout, and the
 * translators `ctr images import` applies to it (`--base-name`,
 * `--index-name`). References themselves are parsed in
 * `src/types/reference.ts`.
 *
 * @module
 */

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
