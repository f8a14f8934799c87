import assert from "node:assert/strict";
import { CheckedOnce, validateIdentifier } from "./identifiers.ts";

Deno.test("a check made once: what passed is not checked again, what failed always is, and only max values are kept", () => {
  const checked: string[] = [];
  const once = new CheckedOnce((value) => {
    checked.push(value);
    validateIdentifier(value);
  }, 2);
  once.check("a");
  once.check("a");
  assert.throws(() => once.check("-bad"), /must match/);
  assert.throws(() => once.check("-bad"), /must match/);
  once.check("b");
  once.check("c");
  once.check("c");
  once.check("b");
  assert.deepEqual(checked, ["a", "-bad", "-bad", "b", "c", "c"]);
});
