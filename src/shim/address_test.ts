import assert from "node:assert/strict";
import { MAX_SOCKET_PATH, shimSocketPath } from "./address.ts";

Deno.test("shimSocketPath: short bundles get BUNDLE/shim.sock", async () => {
  assert.equal(
    await shimSocketPath("/run/b/ns/c1", "/run/berth.sock", "ns", "c1"),
    "/run/b/ns/c1/shim.sock",
  );
});

Deno.test("shimSocketPath: long bundles get a hashed path", async () => {
  const bundle = "/x/" + "a".repeat(120);
  const p = await shimSocketPath(
    bundle,
    "/run/berth.sock",
    "ns",
    "c1",
    "/run/s",
  );
  assert.match(p, /^\/run\/s\/[0-9a-f]{64}$/);
  assert.ok(p.length <= MAX_SOCKET_PATH);
  assert.equal(
    p,
    await shimSocketPath(bundle, "/run/berth.sock", "ns", "c1", "/run/s"),
  );
  assert.notEqual(
    p,
    await shimSocketPath(bundle, "/run/berth.sock", "ns", "c2", "/run/s"),
  );
});
