/** Fuzzing image references (src/types/reference.ts). */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  familiarString,
  formatReference,
  normalizeReference,
  parseReference,
} from "../../src/types/mod.ts";
import { fuzzParameters, parsesOrFailsClearly } from "./_fuzz.ts";

const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/);
const hex = fc.stringMatching(/^[a-f0-9]{64}$/);

/** References close to valid ones, with a random defect now and then. */
const referenceText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.tuple(
    fc.option(
      fc.oneof(
        fc.constant("localhost"),
        fc.constant("127.0.0.1:5000"),
        fc.constant("[::1]:5000"),
        fc.stringMatching(/^[a-z0-9-]{1,10}\.[a-z]{2,4}(:[0-9]{1,5})?$/),
      ),
    ),
    fc.array(component, { minLength: 1, maxLength: 4 }),
    fc.option(fc.stringMatching(/^[\w][\w.-]{0,20}$/)),
    fc.option(hex.map((h) => `sha256:${h}`)),
    fc.constantFrom("", "", "", "A", "/", ":", "@", "..", " ", "\u00e9"),
  ).map(([domain, path, tag, digest, defect]) => {
    let text = [domain, ...path].filter((p) => p !== null).join("/");
    if (tag !== null) text += `:${tag}`;
    if (digest !== null) text += `@${digest}`;
    return text + defect;
  }),
);

Deno.test("fuzz: references parse or fail with InvalidArgument; normal forms are fixed points", () => {
  fc.assert(
    fc.property(referenceText, (text) => {
      const ref = parsesOrFailsClearly(() => parseReference(text));
      if (!ref) return;
      const normal = normalizeReference(text);
      assert.equal(normalizeReference(normal), normal);
      assert.deepEqual(parseReference(formatReference(ref)), ref);
      familiarString(ref);
    }),
    fuzzParameters(3000),
  );
});
