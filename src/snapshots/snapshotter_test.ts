import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { SNAPSHOT_KIND_WIRE, snapshotKindFromWire } from "./snapshotter.ts";

Deno.test("snapshot kinds map to containerd's wire numbers", () => {
  assert.deepEqual(SNAPSHOT_KIND_WIRE, { view: 1, active: 2, committed: 3 });
  for (const [kind, value] of Object.entries(SNAPSHOT_KIND_WIRE)) {
    assert.equal(snapshotKindFromWire(value), kind);
  }
  assert.throws(
    () => snapshotKindFromWire(0),
    (err) => BerthError.is(err, Code.InvalidArgument),
  );
});
