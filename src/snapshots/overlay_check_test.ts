import assert from "node:assert/strict";
import { fsTypeOf, kernelAtLeast, runningInUserNS } from "./overlay_check.ts";

Deno.test("runningInUserNS reads the uid map", () => {
  assert.equal(runningInUserNS("         0          0 4294967295\n"), false);
  assert.equal(runningInUserNS("0 1000 1\n"), true);
  assert.equal(runningInUserNS("0 0 4294967295\n1 2 3\n"), true);
  assert.equal(runningInUserNS(""), false);
});

Deno.test("fsTypeOf finds the innermost mount", () => {
  const mountinfo = [
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
    "30 22 0:25 / /tmp rw shared:2 - tmpfs tmpfs rw",
    "31 22 0:26 / /tmpx rw shared:3 - xfs /dev/vdb rw",
    "32 22 0:27 / /with\\040space rw - btrfs /dev/vdc rw",
  ].join("\n");
  assert.equal(fsTypeOf("/tmp/root", mountinfo), "tmpfs");
  assert.equal(fsTypeOf("/tmp", mountinfo), "tmpfs");
  assert.equal(fsTypeOf("/tmpx/a", mountinfo), "xfs");
  assert.equal(fsTypeOf("/var/lib", mountinfo), "ext4");
  assert.equal(fsTypeOf("/with space/x", mountinfo), "btrfs");
});

Deno.test("kernelAtLeast compares releases", () => {
  assert.ok(kernelAtLeast(5, 11, "5.11.0-1-amd64"));
  assert.ok(kernelAtLeast(5, 11, "6.1.0"));
  assert.ok(!kernelAtLeast(5, 11, "5.10.200"));
  assert.ok(!kernelAtLeast(5, 11, "4.19.0"));
  assert.ok(!kernelAtLeast(5, 11, "weird"));
});
