/**
 * containerd's filter language, shared by every List and Subscribe RPC.
 *
 * A filter string is selectors joined by `,` (AND): a field path such as
 * `name`, `labels.foo` or `labels."com.example.x"`, alone (the field is
 * present) or followed by `==`, `!=` or `~=` (Go regular expression) and a
 * value, bare or quoted. Several strings given to one request are ORed, and
 * `|` ORs groups within one string where containerd 1.6 would reject it (see
 * {@link ./parser.ts}). The objects being filtered are seen through an
 * {@linkcode Adaptor}.
 *
 * @example Usage
 * ```ts
 * import { fieldsAdaptor, parseFilters } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const filter = parseFilters(["name==foo,labels.bar", "labels.baz==1"]);
 * const container = fieldsAdaptor({ name: "foo", labels: { bar: "" } });
 * assert.ok(filter.match(container));
 * ```
 *
 * @module
 */

export {
  adaptLabels,
  type Adaptor,
  fieldsAdaptor,
  type FieldValue,
  type Filter,
} from "./filter.ts";
export { FilterSyntaxError, parseFilter, parseFilters } from "./parser.ts";
