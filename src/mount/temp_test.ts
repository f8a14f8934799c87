import assert from "node:assert/strict";
import { SyscallError } from "../sys/mod.ts";
import { mount } from "./mount.ts";
import {
  cleanupTempMounts,
  TEMP_MOUNT_PREFIX,
  withReadonlyTempMount,
  withTempMount,
} from "./temp.ts";
import { mountPointsUnder, withTestDir, writeTree } from "./_testing.ts";

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("withTempMount mounts for the callback, then cleans up", async () => {
  await withTestDir(async (dir) => {
    await writeTree(dir, { "src/file": "data", "src/inner/.keep": "" });
    const value = await withTempMount(
      [
        { type: "bind", source: `${dir}/src`, options: ["rbind"] },
        {
          type: "tmpfs",
          source: "tmpfs",
          target: "/inner",
          options: ["size=1m"],
        },
      ],
      async (root) => {
        assert.ok(root.startsWith(`${dir}/${TEMP_MOUNT_PREFIX}`));
        assert.deepEqual(mountPointsUnder(dir), [root, `${root}/inner`]);
        await Deno.writeTextFile(`${root}/written`, "w");
        await Deno.writeTextFile(`${root}/inner/gone`, "on tmpfs");
        return await Deno.readTextFile(`${root}/file`);
      },
      { root: dir },
    );
    assert.equal(value, "data");
    assert.equal(await Deno.readTextFile(`${dir}/src/written`), "w");
    assert.deepEqual(await entries(`${dir}/src/inner`), [".keep"]);
    assert.deepEqual(await entries(dir), ["src"]);
  });
});

Deno.test("withTempMount cleans up when a mount fails", async () => {
  await withTestDir(async (dir) => {
    let called = false;
    await assert.rejects(
      withTempMount(
        [
          { type: "tmpfs", source: "tmpfs", options: [] },
          { type: "bind", source: `${dir}/missing`, options: ["rbind"] },
        ],
        () => {
          called = true;
        },
        { root: dir },
      ),
      (err) =>
        err instanceof SyscallError && /^mount bind on /.test(err.message),
    );
    assert.equal(called, false);
    assert.deepEqual(await entries(dir), []);
  });
});

Deno.test("withTempMount cleans up when the callback throws", async () => {
  await withTestDir(async (dir) => {
    let root = "";
    let mountsInside: string[] = [];
    await assert.rejects(
      withTempMount(
        [{ type: "tmpfs", source: "tmpfs", options: ["size=1m"] }],
        async (r) => {
          root = r;
          await Deno.mkdir(`${r}/nested`);
          // A mount the callback adds itself goes too.
          await mount(
            { type: "tmpfs", source: "tmpfs", options: [] },
            `${r}/nested`,
          );
          mountsInside = mountPointsUnder(dir);
          throw new Error("callback failed");
        },
        { root: dir },
      ),
      /^Error: callback failed$/,
    );
    assert.deepEqual(mountsInside, [root, `${root}/nested`]);
    assert.deepEqual(mountPointsUnder(dir), []);
    assert.deepEqual(await entries(dir), []);
  });
});

Deno.test("withReadonlyTempMount: overlay read-only, upper as top layer", async () => {
  await withTestDir(async (dir) => {
    await writeTree(dir, {
      "lower/a": "lower a",
      "lower/b": "lower b",
      "upper/a": "upper a",
      "work/.keep": "",
    });
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const overlay = {
      type: "overlay",
      source: "overlay",
      options: [
        `workdir=${dir}/work`,
        `upperdir=${dir}/upper`,
        `lowerdir=${dir}/lower`,
      ],
    };
    const seen = await withReadonlyTempMount([overlay], async (root) => {
      assert.throws(
        () => Deno.writeTextFileSync(`${root}/c`, "x"),
        /Read-only/,
      );
      return [
        await Deno.readTextFile(`${root}/a`),
        await Deno.readTextFile(`${root}/b`),
      ];
    }, { root: tmp });
    assert.deepEqual(seen, ["upper a", "lower b"]);

    // One layer, no upper: a read-only bind.
    const single = {
      type: "overlay",
      source: "overlay",
      options: [`lowerdir=${dir}/lower`],
    };
    const b = await withReadonlyTempMount([single], async (root) => {
      assert.throws(
        () => Deno.writeTextFileSync(`${root}/c`, "x"),
        /Read-only/,
      );
      return await Deno.readTextFile(`${root}/b`);
    }, { root: tmp });
    assert.equal(b, "lower b");
    assert.deepEqual(await entries(tmp), []);
    assert.deepEqual(mountPointsUnder(dir), []);
  });
});

Deno.test("cleanupTempMounts removes what a crash left behind", async () => {
  await withTestDir(async (dir) => {
    const left = `${dir}/${TEMP_MOUNT_PREFIX}123`;
    await Deno.mkdir(`${left}`);
    await mount({ type: "tmpfs", source: "tmpfs", options: [] }, left);
    await Deno.mkdir(`${left}/n`);
    await mount({ type: "tmpfs", source: "tmpfs", options: [] }, `${left}/n`);
    await Deno.mkdir(`${dir}/${TEMP_MOUNT_PREFIX}empty`);
    await Deno.mkdir(`${dir}/other`);
    assert.deepEqual(await cleanupTempMounts(dir), []);
    assert.deepEqual(mountPointsUnder(dir), []);
    assert.deepEqual(await entries(dir), ["other"]);
    assert.deepEqual(await cleanupTempMounts(`${dir}/missing`), []);
  });
});
