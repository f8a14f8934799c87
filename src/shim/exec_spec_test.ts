import assert from "node:assert/strict";
import { BerthError, Code } from "../types/errors.ts";
import { execProcessSpec } from "./exec_spec.ts";

const encode = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value));
const decode = (bytes: Uint8Array) =>
  JSON.parse(new TextDecoder().decode(bytes));

Deno.test("execProcessSpec passes a spec whose terminal flag agrees through as it came", () => {
  const off = encode({ args: ["true"], terminal: false, cwd: "/" });
  assert.equal(execProcessSpec("e1", off, false), off);
  const unset = encode({ args: ["true"] });
  assert.equal(execProcessSpec("e1", unset, false), unset);
  const on = encode({ args: ["sh"], terminal: true });
  assert.equal(execProcessSpec("e1", on, true), on);
});

Deno.test("execProcessSpec sets the request's terminal flag over the spec's", () => {
  assert.deepEqual(
    decode(execProcessSpec("e1", encode({ args: ["sh"] }), true)),
    { args: ["sh"], terminal: true },
  );
  assert.deepEqual(
    decode(
      execProcessSpec("e1", encode({ args: ["sh"], terminal: true }), false),
    ),
    { args: ["sh"], terminal: false },
  );
});

Deno.test("execProcessSpec refuses what is not a JSON object as InvalidArgument", () => {
  for (const bad of ["{", "[]", "null", "3"]) {
    assert.throws(
      () => execProcessSpec("e1", new TextEncoder().encode(bad), false),
      (err) =>
        err instanceof BerthError && err.code === Code.InvalidArgument &&
        err.message.startsWith("exec e1: process spec: "),
    );
  }
});
