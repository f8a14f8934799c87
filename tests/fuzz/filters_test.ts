/** Fuzzing the filter language (src/filters): any text parses or fails with a FilterSyntaxError. */
import fc from "fast-check";
import {
  fieldsAdaptor,
  FilterSyntaxError,
  parseFilter,
  parseFilters,
} from "../../src/filters/mod.ts";
import { fuzzParameters, parsesOrFailsClearly } from "./_fuzz.ts";

/** Text made mostly of the language's own symbols, to get past the scanner. */
const filterText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.array(
    fc.constantFrom(
      "name",
      "labels",
      ".",
      "a",
      "é",
      "==",
      "!=",
      "~=",
      ",",
      '"',
      "'",
      "`",
      "/",
      "\\",
      '\\"',
      " ",
      "(",
      "[",
      "*",
      "+",
      "?",
      "{2,}",
      "|",
      "^",
      "$",
      "\u0000",
    ),
    { maxLength: 20 },
  ).map((parts) => parts.join("")),
);

const objectFields = fc.dictionary(
  fc.constantFrom("name", "a", "labels", "é"),
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 })),
  ),
);

Deno.test("fuzz: filters parse or fail with a FilterSyntaxError, and match without throwing", () => {
  fc.assert(
    fc.property(filterText, objectFields, (text, fields) => {
      const filter = parsesOrFailsClearly(() => parseFilter(text), [
        FilterSyntaxError,
      ]);
      filter?.match(fieldsAdaptor(fields));
    }),
    fuzzParameters(3000),
  );
});

Deno.test("fuzz: a list of filters parses as its members do", () => {
  fc.assert(
    fc.property(fc.array(filterText, { maxLength: 4 }), (texts) => {
      const each = texts.every((text) =>
        parsesOrFailsClearly(() => parseFilter(text), [FilterSyntaxError]) !==
          undefined
      );
      const all = parsesOrFailsClearly(() => parseFilters(texts), [
        FilterSyntaxError,
      ]);
      if ((all !== undefined) !== each) {
        throw new Error(
          `parseFilters disagrees with parseFilter on ${JSON.stringify(texts)}`,
        );
      }
    }),
    fuzzParameters(1000),
  );
});
