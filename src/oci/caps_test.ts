import assert from "node:assert/strict";
import { capabilitiesFromBitmap, currentCapabilities } from "./caps.ts";

Deno.test("capabilitiesFromBitmap names bits in order and skips unknown ones", () => {
  assert.deepEqual(capabilitiesFromBitmap(0n), []);
  assert.deepEqual(capabilitiesFromBitmap(0b100001n), [
    "CAP_CHOWN",
    "CAP_KILL",
  ]);
  assert.deepEqual(capabilitiesFromBitmap(1n << 40n | 1n << 63n), [
    "CAP_CHECKPOINT_RESTORE",
  ]);
  assert.equal(capabilitiesFromBitmap(0x1ffffffffffn).length, 41);
});

Deno.test("currentCapabilities reads CapEff", async () => {
  const status =
    "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n";
  assert.deepEqual(await currentCapabilities({ status }), [
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
  ]);
  assert.deepEqual(await currentCapabilities({ status: "Name:\tx\n" }), []);
  assert.ok(Array.isArray(await currentCapabilities()));
});
