import assert from "node:assert/strict";
import {
  FsErrno,
  lchmod,
  lchown,
  lgetxattr,
  llistxattr,
  lsetxattr,
  lutimes,
  makedev,
  mknod,
  splitdev,
} from "./fsx.ts";
import { SyscallError } from "./libc.ts";
import { FileType } from "./statx.ts";

Deno.test("makedev and splitdev round-trip large numbers", () => {
  assert.equal(makedev(1, 3), 0x103n);
  assert.deepEqual(splitdev(makedev(0x12345, 0x6789ab)), [0x12345, 0x6789ab]);
});

Deno.test("mknod creates FIFOs and devices; fails on existing names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    mknod(`${dir}/fifo`, { type: FileType.S_IFIFO, mode: 0o644 });
    assert.equal(Deno.lstatSync(`${dir}/fifo`).isFifo, true);
    mknod(`${dir}/null`, {
      type: FileType.S_IFCHR,
      mode: 0o666,
      major: 1,
      minor: 3,
    });
    const st = Deno.lstatSync(`${dir}/null`);
    assert.equal(st.isCharDevice, true);
    assert.deepEqual(splitdev(st.rdev!), [1, 3]);
    Deno.symlinkSync(`${dir}/elsewhere`, `${dir}/link`);
    assert.throws(
      () => mknod(`${dir}/link`, { type: FileType.S_IFIFO, mode: 0o644 }),
      (e) => e instanceof SyscallError && e.errno === FsErrno.EEXIST,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lchown, lchmod and lutimes act on the link, not its target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.writeTextFileSync(`${dir}/target`, "x");
    Deno.chmodSync(`${dir}/target`, 0o644);
    Deno.symlinkSync("target", `${dir}/link`);
    const before = Deno.statSync(`${dir}/target`);
    lchown(`${dir}/link`, 1234, 5678);
    lutimes(`${dir}/link`, { sec: 1000, nsec: 0 }, { sec: 2000, nsec: 5 });
    assert.throws(
      () => lchmod(`${dir}/link`, 0o4777),
      (e) => e instanceof SyscallError && e.errno === FsErrno.EOPNOTSUPP,
    );
    const link = Deno.lstatSync(`${dir}/link`);
    assert.equal(link.uid, 1234);
    assert.equal(link.gid, 5678);
    assert.equal(link.mtime!.getTime(), 2000_000);
    const after = Deno.statSync(`${dir}/target`);
    assert.equal(after.uid, before.uid);
    assert.equal(after.mode! & 0o7777, 0o644);
    assert.equal(after.mtime!.getTime(), before.mtime!.getTime());
    lchmod(`${dir}/target`, 0o4755);
    assert.equal(Deno.statSync(`${dir}/target`).mode! & 0o7777, 0o4755);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lsetxattr stores binary values; lgetxattr and llistxattr read them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    Deno.writeTextFileSync(path, "x");
    const value = new Uint8Array([0, 0x80, 0xff, 0x41]);
    lsetxattr(path, "user.bin", value);
    lsetxattr(path, "user.empty", new Uint8Array());
    assert.deepEqual(lgetxattr(path, "user.bin"), value);
    assert.deepEqual(lgetxattr(path, "user.empty"), new Uint8Array());
    assert.equal(lgetxattr(path, "user.none"), undefined);
    assert.deepEqual(llistxattr(path).sort(), ["user.bin", "user.empty"]);
    assert.throws(
      () => lsetxattr(path, "user.bin", value, { create: true }),
      (e) => e instanceof SyscallError && e.errno === FsErrno.EEXIST,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
