import assert from "node:assert/strict";
import { SyscallError } from "../sys/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import { mount } from "./mount.ts";
import { readMountInfo } from "./mountinfo.ts";
import { splitLowerdir } from "./overlay.ts";
import { unmount } from "./unmount.ts";
import { withTestDir, writeTree } from "./_testing.ts";

Deno.test("splitLowerdir: layers, data-only layers, escapes", () => {
  assert.deepEqual(splitLowerdir("/a"), { lower: ["/a"], data: [] });
  assert.deepEqual(splitLowerdir("/a:/b:/c"), {
    lower: ["/a", "/b", "/c"],
    data: [],
  });
  assert.deepEqual(splitLowerdir("/a:/b::/d1::/d2"), {
    lower: ["/a", "/b"],
    data: ["/d1", "/d2"],
  });
  assert.deepEqual(splitLowerdir("/x\\:y:/z\\\\w"), {
    lower: ["/x:y", "/z\\w"],
    data: [],
  });
});

async function twoLayers(dir: string, newMountApi: boolean) {
  await writeTree(dir, {
    "l1/top": "from l1",
    "l1/shared": "l1 wins",
    "l2/shared": "l2 loses",
    "l2/bottom": "from l2",
    "upper/.keep": "",
    "work/.keep": "",
  });
  await Deno.remove(`${dir}/upper/.keep`);
  await Deno.remove(`${dir}/work/.keep`);
  await Deno.mkdir(`${dir}/merged`);
  const merged = `${dir}/merged`;
  await mount(
    {
      type: "overlay",
      source: "overlay",
      options: [
        "index=off",
        `lowerdir=${dir}/l1:${dir}/l2`,
        `upperdir=${dir}/upper`,
        `workdir=${dir}/work`,
      ],
    },
    merged,
    { newMountApi },
  );
  try {
    const info = readMountInfo().findLast((m) => m.mountPoint === merged)!;
    assert.equal(info.fsType, "overlay");
    assert.equal(info.source, "overlay");
    assert.equal(await Deno.readTextFile(`${merged}/top`), "from l1");
    assert.equal(await Deno.readTextFile(`${merged}/bottom`), "from l2");
    assert.equal(await Deno.readTextFile(`${merged}/shared`), "l1 wins");
    // Writes land in the upper layer; lower layers stay as they were.
    await Deno.writeTextFile(`${merged}/shared`, "changed");
    await Deno.writeTextFile(`${merged}/new`, "new");
    await Deno.remove(`${merged}/bottom`);
    assert.equal(await Deno.readTextFile(`${dir}/upper/shared`), "changed");
    assert.equal(await Deno.readTextFile(`${dir}/upper/new`), "new");
    assert.equal(await Deno.readTextFile(`${dir}/l1/shared`), "l1 wins");
    assert.equal(await Deno.readTextFile(`${dir}/l2/bottom`), "from l2");
    assert.ok((await Deno.lstat(`${dir}/upper/bottom`)).isCharDevice); // whiteout
    await assert.rejects(Deno.stat(`${merged}/bottom`), Deno.errors.NotFound);
  } finally {
    await unmount(merged);
  }
}

Deno.test("overlay with two layers (new mount API)", async () => {
  await withTestDir((dir) => twoLayers(dir, true));
});

Deno.test("overlay with two layers (mount(2))", async () => {
  await withTestDir((dir) => twoLayers(dir, false));
});

Deno.test("overlay with 60 layers under long paths (> a page of options)", async () => {
  await withTestDir(async (dir) => {
    const count = 60;
    const layers: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `layer-${String(i).padStart(2, "0")}-${"x".repeat(90)}`;
      // A few layers deeper than fsconfig's 255-byte strings allow.
      const path = i % 20 === 7
        ? `${dir}/${name}/${"d".repeat(120)}/${"e".repeat(120)}`
        : `${dir}/${name}`;
      layers.push(path);
      await writeTree(path, {
        [`file-${i}`]: `content ${i}`,
        "shared": `layer ${i}`,
        [`dir/in-${i}`]: `${i}`,
      });
    }
    const options = [`lowerdir=${layers.join(":")}`];
    assert.ok(options[0].length > 4096, "options longer than a page");
    assert.ok(
      layers.some((l) => l.length > 255),
      "a layer path over 255 bytes",
    );
    const merged = `${dir}/merged`;
    await Deno.mkdir(merged);

    // mount(2) cannot take that much data.
    await assert.rejects(
      mount({ type: "overlay", source: "overlay", options }, merged, {
        newMountApi: false,
      }),
      (err) => {
        assert.ok(BerthError.is(err, Code.InvalidArgument));
        assert.match(
          (err as Error).message,
          /^mount overlay on .*: options too long/,
        );
        return true;
      },
    );

    await mount({
      type: "overlay",
      source: "overlay",
      options: [...options, "ro"],
    }, merged);
    try {
      const info = readMountInfo().findLast((m) => m.mountPoint === merged)!;
      assert.equal(info.fsType, "overlay");
      assert.ok(info.options.includes("ro"));
      const names = new Set<string>();
      for await (const entry of Deno.readDir(merged)) names.add(entry.name);
      assert.equal(names.size, count + 2);
      for (let i = 0; i < count; i++) {
        assert.equal(
          await Deno.readTextFile(`${merged}/file-${i}`),
          `content ${i}`,
        );
      }
      // The first lowerdir is the topmost layer.
      assert.equal(await Deno.readTextFile(`${merged}/shared`), "layer 0");
      let inDir = 0;
      for await (const _ of Deno.readDir(`${merged}/dir`)) inDir++;
      assert.equal(inDir, count);
      assert.throws(
        () => Deno.writeTextFileSync(`${merged}/x`, "x"),
        /Read-only/,
      );
    } finally {
      await unmount(merged);
    }
  });
});

Deno.test("overlay errors name the mount and the bad option", async () => {
  await withTestDir(async (dir) => {
    await Deno.mkdir(`${dir}/l1`);
    await Deno.mkdir(`${dir}/merged`);
    const m = {
      type: "overlay",
      source: "overlay",
      options: [`lowerdir=${dir}/l1:${dir}/missing`],
    };
    await assert.rejects(mount(m, `${dir}/merged`), (err) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.errno, 2);
      assert.ok(
        err.message.startsWith(
          `mount overlay on ${dir}/merged: No such file or directory (lowerdir+=${dir}/missing`,
        ),
        err.message,
      );
      return true;
    });
    const bogus = {
      ...m,
      options: [`lowerdir=${dir}/l1:${dir}/l1`, "bogus=1"],
    };
    await assert.rejects(mount(bogus, `${dir}/merged`), (err) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(
        err.message,
        `mount overlay on ${dir}/merged: Invalid argument (bogus=1; overlay: Unknown parameter 'bogus')`,
      );
      return true;
    });
    await assert.rejects(
      mount(m, `${dir}/merged`, { newMountApi: false }),
      (err) => {
        assert.ok(err instanceof SyscallError);
        assert.equal(
          err.message,
          `mount overlay on ${dir}/merged: No such file or directory`,
        );
        return true;
      },
    );
  });
});
