import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import {
  isMountPoint,
  lookupMount,
  mountsUnder,
  parseMountInfo,
  readMountInfo,
  unescapeMountInfo,
} from "./mountinfo.ts";
import { mount } from "./mount.ts";
import { unmount } from "./unmount.ts";
import { withTestDir } from "./_testing.ts";

const SAMPLE = [
  "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro",
  "36 22 0:32 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate",
  "41 22 0:40 /sub\\040dir /mnt/with\\040space\\011tab rw - tmpfs my\\134src rw,size=1024k,mode=755",
  "42 41 0:41 / /mnt/o ro,relatime - overlay overlay ro,lowerdir=/a\\054b:/c,upperdir=/u",
].join("\n") + "\n";

Deno.test("parseMountInfo reads every field", () => {
  const table = parseMountInfo(SAMPLE);
  assert.equal(table.length, 4);
  assert.deepEqual(table[0], {
    id: 22,
    parent: 1,
    major: 252,
    minor: 1,
    root: "/",
    mountPoint: "/",
    options: ["rw", "relatime"],
    optional: ["shared:1"],
    fsType: "ext4",
    source: "/dev/vda",
    superOptions: ["rw", "errors=remount-ro"],
  });
  assert.deepEqual(table[1].optional, ["shared:9", "master:2"]);
  assert.deepEqual(table[1].options, [
    "rw",
    "nosuid",
    "nodev",
    "noexec",
    "relatime",
  ]);
});

Deno.test("parseMountInfo undoes octal escapes, no optional fields", () => {
  const [, , tmp, overlay] = parseMountInfo(SAMPLE);
  assert.equal(tmp.root, "/sub dir");
  assert.equal(tmp.mountPoint, "/mnt/with space\ttab");
  assert.equal(tmp.source, "my\\src");
  assert.deepEqual(tmp.optional, []);
  assert.deepEqual(tmp.superOptions, ["rw", "size=1024k", "mode=755"]);
  // An escaped comma stays inside its option.
  assert.deepEqual(overlay.superOptions, [
    "ro",
    "lowerdir=/a,b:/c",
    "upperdir=/u",
  ]);
});

Deno.test("unescapeMountInfo handles bytes and bad escapes", () => {
  assert.equal(unescapeMountInfo("plain"), "plain");
  assert.equal(unescapeMountInfo("a\\012b"), "a\nb");
  assert.equal(unescapeMountInfo("\\303\\251t\\303\\251"), "été");
  assert.equal(unescapeMountInfo("x\\9yz\\"), "x\\9yz\\");
});

Deno.test("parseMountInfo rejects a malformed line", () => {
  assert.throws(
    () => parseMountInfo("1 2 3:4 / /x rw shared:1 ext4 /dev/x rw\n"),
    (err) => BerthError.is(err, Code.InvalidArgument),
  );
  assert.throws(
    () => parseMountInfo("1 2 34 / /x rw - ext4 /dev/x rw\n"),
    (err) => BerthError.is(err, Code.InvalidArgument),
  );
});

Deno.test("mountsUnder filters by path prefix, not string prefix", () => {
  const table = parseMountInfo(
    [
      "1 0 0:1 / / rw - ext4 a rw",
      "2 1 0:2 / /mnt rw - tmpfs b rw",
      "3 2 0:3 / /mnt/x rw - tmpfs c rw",
      "4 1 0:4 / /mntx rw - tmpfs d rw",
    ].join("\n"),
  );
  assert.deepEqual(mountsUnder("/mnt", table).map((m) => m.id), [2, 3]);
  assert.deepEqual(mountsUnder("/", table).map((m) => m.id), [1, 2, 3, 4]);
});

Deno.test("mountinfo sees a real mount on a path with a space", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/with space`;
    await Deno.mkdir(target);
    assert.equal(isMountPoint(target), false);
    await mount(
      { type: "tmpfs", source: "berth test", options: ["size=1m"] },
      target,
    );
    try {
      const found = readMountInfo().filter((m) => m.mountPoint === target);
      assert.equal(found.length, 1);
      assert.equal(found[0].fsType, "tmpfs");
      assert.equal(found[0].source, "berth test");
      assert.ok(found[0].superOptions.includes("size=1024k"));
      assert.ok(isMountPoint(target));
      assert.ok(isMountPoint(`${target}/`));
      assert.equal(isMountPoint(dir), false);
      assert.equal(isMountPoint(`${dir}/missing`), false);
      assert.ok(isMountPoint("/"));
      assert.deepEqual(mountsUnder(dir).map((m) => m.mountPoint), [target]);
      await Deno.mkdir(`${target}/inner`);
      assert.equal(lookupMount(`${target}/inner`).mountPoint, target);
      assert.notEqual(lookupMount(dir).mountPoint, target);
    } finally {
      await unmount(target);
    }
    assert.equal(isMountPoint(target), false);
  });
});
