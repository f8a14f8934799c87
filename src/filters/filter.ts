/**
 * Gives a filter access to the fields of one object. Field paths are the
 * parsed selectors' paths: `labels."com.example.x"` is
 * `["labels", "com.example.x"]`.
 *
 * @example Usage
 * ```ts
 * import type { Adaptor } from "./filter.ts";
 *
 * const image = { name: "docker.io/library/alpine:3", labels: {} };
 * const adaptor: Adaptor = {
 *   field: ([name]) => name === "name" ? image.name : undefined,
 * };
 * ```
 */
export type Adaptor = {
  /**
   * Returns the value at `path`, or undefined when the object has no such
   * field. Presence is what a selector without operator tests; an absent
   * field compares as the empty string for `!=` and `~=`.
   */
  field(path: readonly string[]): string | undefined;
};

/** A parsed filter: a predicate over objects seen through an {@linkcode Adaptor}. */
export interface Filter {
  /** Whether the object behind `adaptor` is selected. */
  match(adaptor: Adaptor): boolean;
}

/** Field values a {@linkcode fieldsAdaptor} can expose. */
export type FieldValue =
  | string
  | Readonly<Record<string, string | undefined>>
  | undefined;

/**
 * Looks a field path up in a string map the way containerd does for labels
 * and annotations: the path's parts are joined with `.` into one key, so
 * `labels.com.example.x` and `labels."com.example.x"` both find the label
 * `com.example.x`. Pass the path without its first part (`labels`).
 *
 * @example Usage
 * ```ts
 * import { adaptLabels } from "./filter.ts";
 * import assert from "node:assert/strict";
 *
 * const labels = { "com.example.x": "1" };
 * assert.equal(adaptLabels(labels, ["com", "example", "x"]), "1");
 * assert.equal(adaptLabels(labels, ["y"]), undefined);
 * ```
 *
 * @param labels The map; undefined counts as empty.
 * @param path The key's parts.
 * @returns The value, or undefined when the key is absent.
 */
export function adaptLabels(
  labels: Readonly<Record<string, string | undefined>> | undefined,
  path: readonly string[],
): string | undefined {
  if (labels === undefined) return undefined;
  const key = path.join(".");
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/**
 * Builds an adaptor over named fields. The first part of a path selects a
 * field. A string field is present with its value; as in containerd, the
 * rest of the path is not looked at. A map field (labels, annotations, or a
 * small nested message such as `{ digest, mediatype }`) resolves the rest of
 * the path with {@linkcode adaptLabels}. An undefined field is absent.
 *
 * containerd mostly treats empty strings as absent (`name` on images, `id`
 * on containers) but not always (`parent` on snapshots): pass `x || undefined`
 * where it does.
 *
 * @example Usage
 * ```ts
 * import { fieldsAdaptor } from "./filter.ts";
 * import assert from "node:assert/strict";
 *
 * const adaptor = fieldsAdaptor({
 *   name: "alpine",
 *   target: { digest: "sha256:abc", mediatype: undefined },
 *   labels: { "com.example.x": "1" },
 * });
 * assert.equal(adaptor.field(["name"]), "alpine");
 * assert.equal(adaptor.field(["target", "digest"]), "sha256:abc");
 * assert.equal(adaptor.field(["labels", "com.example.x"]), "1");
 * assert.equal(adaptor.field(["size"]), undefined);
 * ```
 *
 * @param fields The object's fields by name.
 * @returns An adaptor over `fields`.
 */
export function fieldsAdaptor(
  fields: Readonly<Record<string, FieldValue>>,
): Adaptor {
  return {
    field(path) {
      const [name, ...rest] = path;
      const value = name !== undefined && Object.hasOwn(fields, name)
        ? fields[name]
        : undefined;
      return typeof value === "object" ? adaptLabels(value, rest) : value;
    },
  };
}
