import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { MS } from "../sys/mod.ts";
import { parseMountOptions } from "./options.ts";

Deno.test("parseMountOptions splits flags, propagation and data", () => {
  const parsed = parseMountOptions([
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "relatime",
    "size=64m",
    "mode=755",
  ]);
  assert.equal(
    parsed.flags,
    MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME,
  );
  assert.equal(parsed.propagation, 0);
  assert.deepEqual(parsed.data, ["size=64m", "mode=755"]);
});

Deno.test("parseMountOptions applies clearing options in order", () => {
  assert.equal(parseMountOptions(["ro", "rw"]).flags, 0);
  assert.equal(parseMountOptions(["rw", "ro"]).flags, MS.RDONLY);
  assert.equal(parseMountOptions(["nosuid", "suid"]).flags, 0);
  assert.equal(parseMountOptions(["nodev", "dev"]).flags, 0);
  assert.equal(parseMountOptions(["noexec", "exec"]).flags, 0);
  assert.equal(parseMountOptions(["sync", "async"]).flags, 0);
  assert.equal(parseMountOptions(["noatime", "atime"]).flags, 0);
  assert.equal(parseMountOptions(["sync"]).flags, MS.SYNCHRONOUS);
  assert.equal(parseMountOptions(["strictatime"]).flags, MS.STRICTATIME);
  assert.equal(parseMountOptions(["nodiratime"]).flags, MS.NODIRATIME);
  assert.equal(parseMountOptions(["remount"]).flags, MS.REMOUNT);
});

Deno.test("parseMountOptions: bind and rbind", () => {
  assert.equal(parseMountOptions(["bind"]).flags, MS.BIND);
  assert.equal(
    parseMountOptions(["rbind", "ro"]).flags,
    MS.BIND | MS.REC | MS.RDONLY,
  );
});

Deno.test("parseMountOptions keeps propagation apart, last one wins", () => {
  const cases: [string, number][] = [
    ["private", MS.PRIVATE],
    ["rprivate", MS.PRIVATE | MS.REC],
    ["shared", MS.SHARED],
    ["rshared", MS.SHARED | MS.REC],
    ["slave", MS.SLAVE],
    ["rslave", MS.SLAVE | MS.REC],
    ["unbindable", MS.UNBINDABLE],
    ["runbindable", MS.UNBINDABLE | MS.REC],
  ];
  for (const [option, flag] of cases) {
    const parsed = parseMountOptions(["bind", option]);
    assert.equal(parsed.propagation, flag, option);
    assert.equal(parsed.flags, MS.BIND, option);
    assert.deepEqual(parsed.data, [], option);
  }
  assert.equal(
    parseMountOptions(["rshared", "private"]).propagation,
    MS.PRIVATE,
  );
});

Deno.test("parseMountOptions passes unknown options through as data", () => {
  const parsed = parseMountOptions([
    "defaults",
    "lowerdir=/a:/b",
    "upperdir=/u",
    "workdir=/w",
    "index=off",
    "userxattr",
  ]);
  assert.equal(parsed.flags, 0);
  assert.deepEqual(parsed.data, [
    "lowerdir=/a:/b",
    "upperdir=/u",
    "workdir=/w",
    "index=off",
    "userxattr",
  ]);
  // Not an own property of the table: data, not a flag.
  assert.deepEqual(parseMountOptions(["constructor"]).data, ["constructor"]);
});

Deno.test("parseMountOptions refuses loop devices", () => {
  assert.throws(() => parseMountOptions(["loop", "ro"]), (err) => {
    assert.ok(BerthError.is(err, Code.Unimplemented));
    assert.equal(
      (err as Error).message,
      'mount option "loop": not implemented',
    );
    return true;
  });
});
