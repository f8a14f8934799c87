import assert from "node:assert/strict";
import { BerthError, Code } from "../types/errors.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from "./wire.ts";

Deno.test("request round trip keeps every field and repeated metadata", () => {
  const req = {
    service: "containerd.task.v2.Task",
    method: "State",
    payload: new Uint8Array([1, 2, 3]),
    timeoutNano: 5_000_000_000n,
    metadata: { "containerd-namespace-ttrpc": ["default"], k: ["a", "b"] },
  };
  assert.deepEqual(decodeRequest(encodeRequest(req)), req);
});

Deno.test("empty request decodes to defaults", () => {
  assert.deepEqual(decodeRequest(new Uint8Array()), {
    service: "",
    method: "",
    payload: new Uint8Array(),
    timeoutNano: 0n,
    metadata: {},
  });
});

Deno.test("response round trip with and without status", () => {
  const ok = { payload: new Uint8Array([9]) };
  assert.deepEqual(decodeResponse(encodeResponse(ok)), ok);
  const bad = {
    status: { code: 5, message: "x: not found" },
    payload: new Uint8Array(),
  };
  assert.deepEqual(decodeResponse(encodeResponse(bad)), bad);
});

Deno.test("response status details are skipped", () => {
  // Response{status=Status{code=3, message="m", details=[Any{type_url="t"}]}}
  const status = [0x08, 3, 0x12, 1, 0x6d, 0x1a, 3, 0x0a, 1, 0x74];
  const bytes = new Uint8Array([0x0a, status.length, ...status]);
  assert.deepEqual(decodeResponse(bytes).status, { code: 3, message: "m" });
});

Deno.test("a truncated request or response is InvalidArgument, not a RangeError (found by fuzzing)", () => {
  // A length-delimited field that claims more bytes than follow.
  const truncated = new Uint8Array([0x0a, 0x05, 0x61]);
  for (const decode of [decodeRequest, decodeResponse]) {
    assert.throws(
      () => decode(truncated),
      (err) => BerthError.is(err, Code.InvalidArgument),
    );
  }
});

Deno.test("metadata keys named like object members stay plain keys (found by fuzzing)", () => {
  // JSON.parse makes "__proto__" an own key, as a decoder must.
  const metadata = JSON.parse(
    '{"toString": ["a"], "__proto__": ["b"], "constructor": ["c"]}',
  );
  const req = {
    service: "s",
    method: "m",
    payload: new Uint8Array(),
    timeoutNano: 0n,
    metadata,
  };
  const decoded = decodeRequest(encodeRequest(req));
  assert.deepEqual(Object.keys(decoded.metadata).sort(), [
    "__proto__",
    "constructor",
    "toString",
  ]);
  assert.deepEqual(decoded.metadata["__proto__"], ["b"]);
  assert.equal(Object.getPrototypeOf(decoded.metadata), Object.prototype);
});
