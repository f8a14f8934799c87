import assert from "node:assert/strict";
import { Errno, SyscallError } from "../sys/mod.ts";
import { mount } from "./mount.ts";
import { isMountPoint } from "./mountinfo.ts";
import { unmount, unmountAll, unmountRecursive } from "./unmount.ts";
import { mountPointsUnder, withTestDir } from "./_testing.ts";

const tmpfs = { type: "tmpfs", source: "tmpfs", options: ["size=1m"] };

Deno.test("unmount of a path that is not a mount point does nothing", async () => {
  await withTestDir(async (dir) => {
    await unmount(dir);
    await unmountAll(dir);
    await unmountAll(`${dir}/missing`);
    await unmountAll("");
    await unmountRecursive(`${dir}/missing`);
    await assert.rejects(unmount(`${dir}/missing`), (err) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.errno, Errno.ENOENT);
      assert.equal(
        err.message,
        `umount ${dir}/missing: No such file or directory`,
      );
      return true;
    });
  });
});

Deno.test("unmountAll pops a stack of mounts on one path", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/t`;
    await Deno.mkdir(target);
    try {
      for (let i = 0; i < 3; i++) {
        await mount(tmpfs, target);
        await Deno.writeTextFile(`${target}/level`, String(i));
      }
      assert.equal(mountPointsUnder(dir).length, 3);
      assert.equal(await Deno.readTextFile(`${target}/level`), "2");
      await unmount(target);
      assert.equal(await Deno.readTextFile(`${target}/level`), "1");
      await unmountAll(target);
      assert.equal(isMountPoint(target), false);
    } finally {
      await unmountRecursive(dir);
    }
  });
});

Deno.test("unmountRecursive removes stacked and nested mounts", async () => {
  await withTestDir(async (dir) => {
    const t = `${dir}/t`;
    await Deno.mkdir(t);
    try {
      // A at t, B at t/a on A, C at t stacked over A (hiding B),
      // D at t/b on C, E at t/b/c on D, F stacked at t/b.
      await mount(tmpfs, t);
      await Deno.mkdir(`${t}/a`);
      await mount(tmpfs, `${t}/a`);
      await mount(tmpfs, t);
      await Deno.mkdir(`${t}/b`);
      await mount(tmpfs, `${t}/b`);
      await Deno.mkdir(`${t}/b/c`);
      await mount(tmpfs, `${t}/b/c`);
      await mount(tmpfs, `${t}/b`);
      assert.equal(mountPointsUnder(dir).length, 6);
      await unmountRecursive(t);
      assert.deepEqual(mountPointsUnder(dir), []);
    } finally {
      await unmountRecursive(dir, { detach: true });
    }
  });
});

Deno.test("unmount with detach lets go of a busy mount", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/t`;
    await Deno.mkdir(target);
    await mount(tmpfs, target);
    const file = await Deno.open(`${target}/held`, {
      create: true,
      write: true,
    });
    try {
      await unmount(target, { detach: true });
      assert.deepEqual(mountPointsUnder(dir), []);
      // The open file still works on the detached filesystem.
      await file.write(new TextEncoder().encode("still here"));
    } finally {
      file.close();
      await unmountAll(target);
    }
  });
});
