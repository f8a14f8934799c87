import assert from "node:assert/strict";
import type { Header } from "tar-stream";
import { Code } from "../types/mod.ts";
import { toLayerEntry } from "./_entry.ts";

const base: Header = {
  name: "f",
  type: "file",
  mode: 0o104755,
  uid: 1,
  gid: 2,
  size: 3,
  mtime: new Date(5000),
  linkname: "",
  uname: "",
  gname: "",
  devmajor: 0,
  devminor: 0,
  pax: null,
};

Deno.test("toLayerEntry masks the mode and prefers PAX ids and times", () => {
  const e = toLayerEntry({
    ...base,
    pax: { uid: "3000000000", gid: "7", mtime: "10.25", atime: "9" },
  });
  assert.equal(e.mode, 0o4755);
  assert.equal(e.uid, 3000000000);
  assert.equal(e.gid, 7);
  assert.deepEqual(e.mtime, { sec: 10, nsec: 250000000 });
  assert.deepEqual(e.atime, e.mtime, "atime is the later of atime and mtime");
  assert.deepEqual(toLayerEntry(base).mtime, { sec: 5, nsec: 0 });
});

Deno.test("toLayerEntry refuses bad ids, times, types and sparse files", () => {
  const bad: Partial<Header>[] = [
    { pax: { uid: "-1" } },
    { pax: { uid: "4294967295" } },
    { pax: { mtime: "yesterday" } },
    { type: null as unknown as Header["type"] },
    { pax: { "GNU.sparse.major": "1" } },
    { type: "symlink", linkname: "a\0b" },
  ];
  for (const fields of bad) {
    assert.throws(
      () => toLayerEntry({ ...base, ...fields }),
      (e: Error & { code?: Code }) =>
        e.code === Code.InvalidArgument && /layer entry "f"/.test(e.message),
      JSON.stringify(fields),
    );
  }
});
