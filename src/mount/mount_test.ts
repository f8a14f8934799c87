import assert from "node:assert/strict";
import { Errno, SyscallError } from "../sys/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import { mount, mountAll } from "./mount.ts";
import { isMountPoint, readMountInfo } from "./mountinfo.ts";
import { unmount, unmountAll, unmountRecursive } from "./unmount.ts";
import { mountPointsUnder, withTestDir, writeTree } from "./_testing.ts";

function infoAt(path: string) {
  const found = readMountInfo().filter((m) => m.mountPoint === path);
  assert.ok(found.length > 0, `nothing mounted at ${path}`);
  return found[found.length - 1];
}

function assertReadOnly(path: string) {
  assert.throws(() => Deno.writeTextFileSync(path, "x"), (err) => {
    assert.match(String(err), /Read-only file system/);
    return true;
  });
}

Deno.test("mount tmpfs with a size option", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/t`;
    await Deno.mkdir(target);
    await mount({
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "nodev", "size=1m", "mode=700"],
    }, target);
    try {
      const info = infoAt(target);
      assert.equal(info.fsType, "tmpfs");
      assert.ok(
        info.options.includes("nosuid") && info.options.includes("nodev"),
      );
      assert.ok(info.superOptions.includes("size=1024k"));
      assert.ok(info.superOptions.includes("mode=700"));
      // More than the size does not fit.
      assert.throws(
        () => Deno.writeFileSync(`${target}/big`, new Uint8Array(2 << 20)),
        /No space left on device/,
      );
    } finally {
      await unmount(target);
    }
  });
});

Deno.test("bind mount, then remounted read-only", async () => {
  await withTestDir(async (dir) => {
    await writeTree(dir, { "src/file": "hello" });
    const rw = `${dir}/rw`;
    const ro = `${dir}/ro`;
    await Deno.mkdir(rw);
    await Deno.mkdir(ro);
    await mount({ type: "bind", source: `${dir}/src`, options: ["bind"] }, rw);
    try {
      await mount(
        {
          type: "bind",
          source: `${dir}/src`,
          options: ["bind", "ro", "nosuid"],
        },
        ro,
      );
      try {
        assert.equal(await Deno.readTextFile(`${ro}/file`), "hello");
        assertReadOnly(`${ro}/new`);
        assert.ok(infoAt(ro).options.includes("ro"));
        assert.ok(infoAt(ro).options.includes("nosuid"));
        // The rw bind still writes, and the ro view sees it.
        await Deno.writeTextFile(`${rw}/new`, "via rw");
        assert.equal(await Deno.readTextFile(`${ro}/new`), "via rw");
        assert.ok(infoAt(rw).options.includes("rw"));
      } finally {
        await unmount(ro);
      }
    } finally {
      await unmount(rw);
    }
  });
});

Deno.test("rbind carries nested mounts; ro applies to the top", async () => {
  await withTestDir(async (dir) => {
    await writeTree(dir, { "src/top": "top", "src/sub/.keep": "" });
    await mount(
      { type: "tmpfs", source: "tmpfs", options: ["size=1m"] },
      `${dir}/src/sub`,
    );
    try {
      await Deno.writeTextFile(`${dir}/src/sub/nested`, "nested");
      const plain = `${dir}/plain`;
      const rec = `${dir}/rec`;
      await Deno.mkdir(plain);
      await Deno.mkdir(rec);
      await mountAll([
        { type: "bind", source: `${dir}/src`, options: ["bind", "ro"] },
      ], plain);
      await mount(
        {
          type: "bind",
          source: `${dir}/src`,
          options: ["rbind", "ro", "rprivate"],
        },
        rec,
      );
      try {
        // bind does not bring the nested tmpfs along, rbind does.
        assert.equal(isMountPoint(`${plain}/sub`), false);
        assert.ok(isMountPoint(`${rec}/sub`));
        assert.equal(await Deno.readTextFile(`${rec}/sub/nested`), "nested");
        assertReadOnly(`${rec}/x`);
        assertReadOnly(`${plain}/x`);
        // rprivate: no shared peer group on the copy.
        assert.ok(!infoAt(rec).optional.some((o) => o.startsWith("shared:")));
        assert.ok(
          !infoAt(`${rec}/sub`).optional.some((o) => o.startsWith("shared:")),
        );
      } finally {
        await unmountAll(plain);
        await unmountRecursive(rec);
      }
      assert.deepEqual(mountPointsUnder(`${dir}/rec`), []);
    } finally {
      await unmount(`${dir}/src/sub`);
    }
  });
});

Deno.test("mount resolves Mount.target inside the root", async () => {
  await withTestDir(async (dir) => {
    await Deno.mkdir(`${dir}/root/sub`, { recursive: true });
    await Deno.symlink("/", `${dir}/root/escape`);
    await Deno.mkdir(`${dir}/root/dev`);
    await mountAll([
      { type: "tmpfs", source: "tmpfs", target: "sub", options: ["size=1m"] },
      // An absolute symlink resolves inside the root: root/dev, not /dev.
      {
        type: "tmpfs",
        source: "tmpfs",
        target: "escape/dev",
        options: ["size=1m"],
      },
    ], `${dir}/root`);
    try {
      assert.deepEqual(mountPointsUnder(dir), [
        `${dir}/root/sub`,
        `${dir}/root/dev`,
      ]);
    } finally {
      await unmountRecursive(`${dir}/root`);
    }
  });
});

Deno.test("mountAll undoes what it mounted when a later mount fails", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/t`;
    await Deno.mkdir(target);
    await assert.rejects(
      mountAll([
        { type: "tmpfs", source: "tmpfs", options: [] },
        { type: "tmpfs", source: "tmpfs", options: [] },
        { type: "bind", source: `${dir}/missing`, options: ["rbind"] },
      ], target),
      (err) => {
        assert.ok(err instanceof SyscallError);
        assert.equal(err.errno, Errno.ENOENT);
        assert.equal(
          err.message,
          `mount bind on ${target}: No such file or directory`,
        );
        return true;
      },
    );
    assert.deepEqual(mountPointsUnder(dir), []);
  });
});

Deno.test("mount rejects loop and unknown filesystem types clearly", async () => {
  await withTestDir(async (dir) => {
    await assert.rejects(
      mount({ type: "ext4", source: `${dir}/img`, options: ["loop"] }, dir),
      (err) => BerthError.is(err, Code.Unimplemented),
    );
    await assert.rejects(
      mount({ type: "nosuchfs", source: "x", options: [] }, dir),
      (err) => {
        assert.ok(err instanceof SyscallError);
        assert.match(
          err.message,
          new RegExp(`^mount nosuchfs on ${dir}: No such device$`),
        );
        return true;
      },
    );
  });
});

Deno.test("remount changes flags of an existing mount", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/t`;
    await Deno.mkdir(target);
    await mount(
      { type: "tmpfs", source: "tmpfs", options: ["size=1m"] },
      target,
    );
    try {
      await Deno.writeTextFile(`${target}/f`, "x");
      await mount({
        type: "tmpfs",
        source: "tmpfs",
        options: ["remount", "ro"],
      }, target);
      assertReadOnly(`${target}/g`);
      assert.equal(await Deno.readTextFile(`${target}/f`), "x");
      // Still one mount, not two.
      assert.deepEqual(mountPointsUnder(dir), [target]);
    } finally {
      await unmount(target);
    }
  });
});
