import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { parseMountFlag } from "./mount_flag.ts";

Deno.test("parseMountFlag reads ctr's --mount syntax", () => {
  assert.deepEqual(
    parseMountFlag("type=bind,src=/a,dst=/b,options=rbind:ro"),
    { destination: "/b", type: "bind", source: "/a", options: ["rbind", "ro"] },
  );
  assert.deepEqual(
    parseMountFlag('type=tmpfs,source=tmpfs,"destination=/x,""y"""'),
    { destination: '/x,"y"', type: "tmpfs", source: "tmpfs" },
  );
});

Deno.test("parseMountFlag rejects bad fields", () => {
  const bad = [
    "type",
    "type=bind,foo=bar",
    '"dst=/a',
    'dst=/a"b',
    '"dst=/a"x',
  ];
  for (const value of bad) {
    assert.throws(
      () => parseMountFlag(value),
      (e) => e instanceof BerthError && e.code === Code.InvalidArgument,
      value,
    );
  }
  assert.throws(() => parseMountFlag("x=1"), /mount option "x" not supported/);
});
