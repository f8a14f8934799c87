import assert from "node:assert/strict";
import { Code } from "../types/mod.ts";
import { concatBytes, paxRecord } from "./_testing.ts";
import { decodePax, PAX_XATTRS } from "./_pax.ts";

Deno.test("decodePax keeps xattr values byte-exact", () => {
  const raw = new Uint8Array([0x80, 0xff, 0x00, 0x0a]);
  const records = decodePax(concatBytes([
    paxRecord("path", "dir/ünïcode"),
    paxRecord("SCHILY.xattr.security.capability", raw),
    paxRecord("mtime", "1.5"),
  ]));
  assert.equal(records.path, "dir/ünïcode");
  assert.equal(records.mtime, "1.5");
  assert.deepEqual(records[PAX_XATTRS]?.get("security.capability"), raw);
});

Deno.test("decodePax refuses malformed records", () => {
  const enc = new TextEncoder();
  for (
    const bad of ["x path=a\n", "99 path=a\n", "5 a\n", "8 =abc\n", "9 path=ab"]
  ) {
    assert.throws(
      () => decodePax(enc.encode(bad)),
      (e: Error & { code?: Code }) => e.code === Code.InvalidArgument,
      bad,
    );
  }
  assert.deepEqual(
    decodePax(concatBytes([paxRecord("a", "b"), new Uint8Array(10)])),
    { a: "b" },
  );
});
