import assert from "node:assert/strict";
import { join } from "node:path";
import { copyDir } from "./copy.ts";
import { isRoot, run, withTempDir } from "./_testing.ts";

/** libc's extended attribute calls, for checking that they are copied. */
function xattrs() {
  const lib = Deno.dlopen("libc.so.6", {
    lsetxattr: {
      parameters: ["buffer", "buffer", "buffer", "usize", "i32"],
      result: "i32",
    },
    lgetxattr: {
      parameters: ["buffer", "buffer", "buffer", "usize"],
      result: "isize",
    },
  });
  const c = (text: string) => new TextEncoder().encode(`${text}\0`);
  return {
    set(path: string, name: string, value: string): boolean {
      const bytes = new TextEncoder().encode(value);
      return lib.symbols.lsetxattr(
        c(path),
        c(name),
        bytes,
        BigInt(bytes.length),
        0,
      ) ===
        0;
    },
    get(path: string, name: string): string | undefined {
      const buffer = new Uint8Array(256);
      const n = Number(
        lib.symbols.lgetxattr(c(path), c(name), buffer, BigInt(buffer.length)),
      );
      return n < 0
        ? undefined
        : new TextDecoder().decode(buffer.subarray(0, n));
    },
    close: () => lib.close(),
  };
}

Deno.test("copyDir copies contents and attributes exactly", () =>
  withTempDir(async (dir) => {
    const src = join(dir, "src");
    const dst = join(dir, "dst");
    await Deno.mkdir(join(src, "sub"), { recursive: true });
    await Deno.mkdir(dst);
    await Deno.chmod(src, 0o750);
    await Deno.writeTextFile(join(src, "sub/file"), "data");
    await Deno.chmod(join(src, "sub/file"), 0o640);
    await Deno.link(join(src, "sub/file"), join(src, "hard"));
    await Deno.symlink("sub/file", join(src, "soft"));
    await run("mkfifo", join(src, "fifo"));
    const mtime = new Date("2001-02-03T04:05:06Z");
    await Deno.utime(join(src, "sub/file"), mtime, mtime);
    if (isRoot) {
      await Deno.chown(join(src, "sub/file"), 1000, 2000);
      await run("mknod", join(src, "null"), "c", "1", "3");
    }
    const x = xattrs();
    try {
      const hasXattr = x.set(join(src, "sub/file"), "user.berth", "yes");

      await copyDir({ source: src, target: dst });

      assert.equal((await Deno.stat(dst)).mode! & 0o777, 0o750);
      const file = await Deno.stat(join(dst, "sub/file"));
      assert.equal(await Deno.readTextFile(join(dst, "sub/file")), "data");
      assert.equal(file.mode! & 0o777, 0o640);
      assert.deepEqual(file.mtime, mtime);
      assert.equal(file.nlink, 2);
      assert.equal((await Deno.stat(join(dst, "hard"))).ino, file.ino);
      assert.equal(await Deno.readLink(join(dst, "soft")), "sub/file");
      assert.ok((await Deno.lstat(join(dst, "fifo"))).isFifo);
      if (isRoot) {
        assert.equal(file.uid, 1000);
        assert.equal(file.gid, 2000);
        const dev = await Deno.lstat(join(dst, "null"));
        assert.ok(dev.isCharDevice);
        assert.equal(dev.rdev, (await Deno.lstat(join(src, "null"))).rdev);
      }
      if (hasXattr) {
        assert.equal(x.get(join(dst, "sub/file"), "user.berth"), "yes");
      }
      // The source is untouched.
      assert.equal(await Deno.readTextFile(join(src, "sub/file")), "data");
    } finally {
      x.close();
    }
  }));

Deno.test("copyDir reports a failed copy", () =>
  withTempDir(async (dir) => {
    await assert.rejects(
      copyDir({ source: join(dir, "missing"), target: dir }),
      /copy .*missing to .* failed: .*No such file/,
    );
  }));
