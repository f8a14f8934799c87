import assert from "node:assert/strict";
import { Errno, SyscallError } from "./libc.ts";
import {
  AT_FDCWD,
  closeFd,
  FSCONFIG,
  fsconfig,
  fsmount,
  fsopen,
  isErrno,
  MNT,
  mount,
  MOUNT_ATTR,
  MOVE_MOUNT_F_EMPTY_PATH,
  moveMount,
  MS,
  readFsLog,
  umount2,
} from "./mount.ts";

function mountedAt(path: string): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .filter((line) => line.split(" ")[4] === path);
}

Deno.test("mount(2) and umount2(2) with errno on failure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-sys-mount-" });
  try {
    mount("tmpfs", dir, "tmpfs", MS.NOSUID, "size=1m");
    try {
      assert.equal(mountedAt(dir).length, 1);
      assert.match(
        mountedAt(dir)[0],
        / rw,nosuid,relatime .* tmpfs tmpfs rw,size=1024k/,
      );
      mount(null, dir, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null);
      assert.match(mountedAt(dir)[0], / ro,/);
    } finally {
      umount2(dir, 0);
    }
    assert.equal(mountedAt(dir).length, 0);
    assert.throws(() => umount2(dir, MNT.DETACH), (err) => {
      assert.ok(err instanceof SyscallError && isErrno(err, Errno.EINVAL));
      assert.equal(err.message, `umount ${dir}: Invalid argument`);
      return true;
    });
    assert.throws(
      () => mount("none", dir, "nosuchfs", 0, null),
      (err) =>
        isErrno(err, 19) &&
        /^mount nosuchfs on .*: No such device$/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("new mount API: fsopen, fsconfig, fsmount, move_mount", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-sys-mount-" });
  const fd = fsopen("tmpfs");
  try {
    fsconfig(fd, FSCONFIG.SET_STRING, "size", "2m");
    assert.throws(
      () => fsconfig(fd, FSCONFIG.SET_STRING, "nosuchoption", "1"),
      (err) =>
        isErrno(err, Errno.EINVAL) &&
        err.message === "fsconfig nosuchoption: Invalid argument",
    );
    assert.ok(readFsLog(fd).some((m) => m.includes("nosuchoption")));
    fsconfig(fd, FSCONFIG.CMD_CREATE, null);
    const mnt = fsmount(fd, undefined, MOUNT_ATTR.NODEV);
    try {
      moveMount(mnt, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH);
    } finally {
      closeFd(mnt);
    }
    try {
      assert.match(
        mountedAt(dir)[0],
        / rw,nodev,relatime .* tmpfs none rw,size=2048k/,
      );
    } finally {
      umount2(dir, 0);
    }
    assert.throws(() => fsopen("nosuchfs"), (err) => isErrno(err, 19));
  } finally {
    closeFd(fd);
    await Deno.remove(dir, { recursive: true });
  }
});
