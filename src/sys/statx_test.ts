import assert from "node:assert/strict";
import { Errno, SyscallError } from "./libc.ts";
import { FileType, fileType, lstatx } from "./statx.ts";
import { lutimes } from "./fsx.ts";

Deno.test("lstatx reads nanosecond times and stats a symlink itself", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "hello");
    Deno.symlinkSync("f", `${dir}/link`);
    lutimes(`${dir}/f`, { sec: 1000, nsec: 0 }, { sec: 2000, nsec: 123456789 });
    const file = lstatx(`${dir}/f`);
    assert.equal(fileType(file.mode), FileType.S_IFREG);
    assert.equal(file.size, 5);
    assert.equal(file.nlink, 1);
    assert.equal(file.mtimeSec, 2000);
    assert.equal(file.mtimeNsec, 123456789);
    const deno = Deno.lstatSync(`${dir}/f`);
    assert.equal(file.ino, BigInt(deno.ino!));
    assert.equal(file.uid, deno.uid);
    const link = lstatx(`${dir}/link`);
    assert.equal(fileType(link.mode), FileType.S_IFLNK);
    assert.equal(link.size, 1);
    assert.equal(fileType(lstatx(dir).mode), FileType.S_IFDIR);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lstatx splits device numbers", () => {
  const dev = lstatx("/dev/null");
  assert.equal(fileType(dev.mode), FileType.S_IFCHR);
  assert.deepEqual([dev.rdevMajor, dev.rdevMinor], [1, 3]);
});

Deno.test("lstatx throws SyscallError with errno", () => {
  assert.throws(
    () => lstatx("/nonexistent/berth"),
    (e) =>
      e instanceof SyscallError && e.errno === Errno.ENOENT &&
      e.message.startsWith("lstat /nonexistent/berth: "),
  );
});
