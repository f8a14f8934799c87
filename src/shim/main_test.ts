import assert from "node:assert/strict";
import { parseShimArgs, runShim } from "./main.ts";

Deno.test("parseShimArgs: containerd's flags then the action", () => {
  const a = parseShimArgs([
    "-namespace",
    "default",
    "-id",
    "c1",
    "-address",
    "/run/berth.sock",
    "-publish-binary",
    "/bin/berth",
    "-debug",
    "start",
  ]);
  assert.equal(a.namespace, "default");
  assert.equal(a.id, "c1");
  assert.equal(a.address, "/run/berth.sock");
  assert.equal(a.bundle, Deno.cwd());
  assert.equal(a.action, "start");
});

Deno.test("runShim: bad ids and unknown actions fail", async () => {
  assert.equal(await runShim(["-namespace", "ns", "-id", "../x", "start"]), 1);
  assert.equal(await runShim(["-namespace", "ns", "-id", "c", "bogus"]), 1);
});

Deno.test("runShim delete: a bundle never created is a no-op", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(
      await runShim([
        "-namespace",
        "ns",
        "-id",
        "c1",
        "-bundle",
        dir,
        "delete",
      ]),
      0,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
