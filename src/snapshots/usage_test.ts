import assert from "node:assert/strict";
import { join } from "node:path";
import { diskUsage } from "./usage.ts";
import { du, withTempDir } from "./_testing.ts";

Deno.test("diskUsage counts allocated blocks and distinct inodes", () =>
  withTempDir(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(join(root, "a/b"), { recursive: true });
    await Deno.writeFile(join(root, "a/big"), new Uint8Array(100_000).fill(7));
    await Deno.writeFile(join(root, "a/b/small"), new Uint8Array(10).fill(7));
    await Deno.link(join(root, "a/big"), join(root, "big-link"));
    await Deno.symlink("/nonexistent", join(root, "dangling"));
    // A sparse file takes less than its length.
    const sparse = await Deno.open(join(root, "sparse"), {
      write: true,
      create: true,
    });
    await sparse.truncate(1 << 30);
    sparse.close();

    const usage = await diskUsage(root);
    assert.equal(usage.inodes, 7, "root, a, b, big, small, dangling, sparse");
    assert.deepEqual(usage, await du(root));
    const big = (await Deno.stat(join(root, "a/big"))).blocks! * 512;
    assert.ok(big >= 100_000);
    assert.ok(usage.size >= big && usage.size < big + 100_000);
  }));

Deno.test("diskUsage of a file and of a missing path", () =>
  withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "f"), new Uint8Array(5000).fill(1));
    const usage = await diskUsage(join(dir, "f"));
    assert.equal(usage.inodes, 1);
    assert.equal(usage.size, (await Deno.stat(join(dir, "f"))).blocks! * 512);
    await assert.rejects(diskUsage(join(dir, "missing")), Deno.errors.NotFound);
  }));
