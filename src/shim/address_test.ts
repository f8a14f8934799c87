import assert from "node:assert/strict";
import { groupSocketPath, MAX_SOCKET_PATH, shimSocketPath } from "./address.ts";

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

Deno.test("groupSocketPath: one hashed path per daemon, namespace and group", async () => {
  const p = await groupSocketPath("/run/berth.sock", "ns", "pod", "/run/s");
  assert.match(p, /^\/run\/s\/[0-9a-f]{64}$/);
  assert.equal(
    p,
    await groupSocketPath("/run/berth.sock", "ns", "pod", "/run/s"),
  );
  for (
    const other of [
      ["/run/other.sock", "ns", "pod"],
      ["/run/berth.sock", "ns2", "pod"],
      ["/run/berth.sock", "ns", "pod2"],
    ]
  ) {
    assert.notEqual(
      p,
      await groupSocketPath(other[0], other[1], other[2], "/run/s"),
    );
  }
});
