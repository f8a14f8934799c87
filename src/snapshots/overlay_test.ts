import assert from "node:assert/strict";
import { join } from "node:path";
import { Code } from "../types/mod.ts";
import {
  OVERLAY_UPPERDIR_LABEL,
  OverlaySnapshotter,
  type OverlaySnapshotterOptions,
} from "./overlay.ts";
import {
  berthError,
  commitLayer,
  snapshotterSuite,
  withSnapshotter,
} from "./_suite.ts";
import {
  isRoot,
  mountAll,
  run,
  unmountAll,
  withTempDir,
  writableDir,
} from "./_testing.ts";

const open = (options: Omit<OverlaySnapshotterOptions, "root"> = {}) =>
(
  root: string,
) => new OverlaySnapshotter({ root, ...options });

snapshotterSuite({ name: "overlay", open: open() });

Deno.test("overlay: mounts are containerd's", () =>
  withSnapshotter(open({ indexOff: true }), async (sn, root) => {
    const fs = (id: number) => join(root, "snapshots", String(id), "fs");
    const work = (id: number) => join(root, "snapshots", String(id), "work");
    assert.equal(sn.name, "overlayfs");

    assert.deepEqual(await sn.prepare("a"), [
      { type: "bind", source: fs(1), options: ["rw", "rbind"] },
    ]);
    assert.deepEqual(await sn.view("v0"), [
      { type: "bind", source: fs(2), options: ["ro", "rbind"] },
    ]);
    await sn.commit("l1", "a");
    assert.deepEqual(await sn.view("v1", "l1"), [
      { type: "bind", source: fs(1), options: ["ro", "rbind"] },
    ]);
    assert.deepEqual(await sn.prepare("b", "l1"), [{
      type: "overlay",
      source: "overlay",
      options: [
        "index=off",
        `workdir=${work(4)}`,
        `upperdir=${fs(4)}`,
        `lowerdir=${fs(1)}`,
      ],
    }]);
    await sn.commit("l2", "b");
    await commitLayer(sn, "l3", "l2", {});
    assert.deepEqual(await sn.view("v3", "l3"), [{
      type: "overlay",
      source: "overlay",
      options: ["index=off", `lowerdir=${fs(5)}:${fs(4)}:${fs(1)}`],
    }]);
    assert.deepEqual(await sn.prepare("c", "l3"), [{
      type: "overlay",
      source: "overlay",
      options: [
        "index=off",
        `workdir=${work(7)}`,
        `upperdir=${fs(7)}`,
        `lowerdir=${fs(5)}:${fs(4)}:${fs(1)}`,
      ],
    }]);
    assert.deepEqual(await sn.mounts("c"), await sn.mounts("c"));
    assert.deepEqual((await sn.mounts("v3"))[0].options, [
      "index=off",
      `lowerdir=${fs(5)}:${fs(4)}:${fs(1)}`,
    ]);

    // Views have no work directory; active snapshots do.
    await assert.rejects(Deno.stat(work(6)), Deno.errors.NotFound);
    assert.equal((await Deno.stat(work(7))).mode! & 0o777, 0o711);
    assert.equal((await Deno.stat(fs(7))).mode! & 0o777, 0o755);
  }));

Deno.test("overlay: index=off and userxattr follow the options", () =>
  withSnapshotter(
    open({ indexOff: false, userxattr: true }),
    async (sn) => {
      await commitLayer(sn, "l1", "", {});
      const [m] = await sn.prepare("a", "l1");
      assert.equal(m.options[0], "userxattr");
      assert.ok(!m.options.includes("index=off"));
    },
  ));

Deno.test("overlay: index=off is detected from the kernel", () =>
  withSnapshotter(open(), (sn) => {
    let expected = true;
    try {
      Deno.statSync("/sys/module/overlay/parameters/index");
    } catch {
      expected = false;
    }
    assert.equal((sn as OverlaySnapshotter).indexOff, expected);
    return Promise.resolve();
  }));

Deno.test("overlay: the new layer's root is owned like its parent's", {
  ignore: !isRoot,
}, () =>
  withSnapshotter(open(), async (sn) => {
    const dir = writableDir(await sn.prepare("a"));
    await Deno.chown(dir, 1234, 5678);
    await sn.commit("l1", "a");
    const upper = writableDir(await sn.prepare("b", "l1"));
    const stat = await Deno.stat(upper);
    assert.equal(stat.uid, 1234);
    assert.equal(stat.gid, 5678);
  }));

Deno.test("overlay: a failed creation removes its directory", () =>
  withSnapshotter(open(), async (sn, root) => {
    await commitLayer(sn, "l1", "", {});
    // The parent's layer vanished: its owner cannot be read.
    await Deno.remove(join(root, "snapshots", "1", "fs"), { recursive: true });
    await assert.rejects(sn.prepare("b", "l1"), Deno.errors.NotFound);
    await assert.rejects(sn.stat("b"), berthError(Code.NotFound));
    const names = await Array.fromAsync(
      Deno.readDir(join(root, "snapshots")),
      (e) => e.name,
    );
    assert.deepEqual(names, ["1"]);
  }));

Deno.test("overlay: the upperdir label", () =>
  withSnapshotter(open({ upperdirLabel: true }), async (sn, root) => {
    await sn.prepare("a", "", { labels: { x: "1" } });
    const upper = join(root, "snapshots", "1", "fs");
    assert.deepEqual((await sn.stat("a")).labels, {
      x: "1",
      [OVERLAY_UPPERDIR_LABEL]: upper,
    });
    const updated = await sn.update({ name: "a", labels: { y: "2" } });
    assert.deepEqual(updated.labels, {
      y: "2",
      [OVERLAY_UPPERDIR_LABEL]: upper,
    });
    for await (const info of sn.walk()) {
      assert.equal(info.labels[OVERLAY_UPPERDIR_LABEL], upper);
    }
  }));

Deno.test("overlay: asynchronous removal leaves directories to cleanup", () =>
  withSnapshotter(open({ asyncRemove: true }), async (sn, root) => {
    await sn.prepare("a");
    await sn.remove("a");
    await assert.rejects(sn.stat("a"), berthError(Code.NotFound));
    const snapshots = join(root, "snapshots");
    assert.ok((await Deno.stat(join(snapshots, "1"))).isDirectory);
    await sn.prepare("a");
    await sn.cleanup();
    const names = await Array.fromAsync(Deno.readDir(snapshots), (e) => e.name);
    assert.deepEqual(names, ["2"]);
  }));

Deno.test("overlay: mounted layers merge; writes land in the active snapshot", {
  ignore: !isRoot,
}, () =>
  withSnapshotter(open(), async (sn, root) => {
    await commitLayer(sn, "l1", "", {
      "etc/os": "one",
      "bin/sh": "shell",
      "gone": "deleted above",
    });
    // The second layer replaces a file and deletes one with a whiteout.
    const key2 = "l2-extract";
    const upper2 = writableDir(await sn.prepare(key2, "l1"));
    await Deno.mkdir(join(upper2, "etc"));
    await Deno.writeTextFile(join(upper2, "etc/os"), "two");
    await run("mknod", join(upper2, "gone"), "c", "0", "0");
    await sn.commit("l2", key2);
    await commitLayer(sn, "l3", "l2", { "usr/app": "app" });

    const mounts = await sn.prepare("rootfs", "l3");
    const target = join(root, "rootfs");
    await Deno.mkdir(target);
    try {
      await mountAll(mounts, target);
      assert.equal(await Deno.readTextFile(join(target, "etc/os")), "two");
      assert.equal(await Deno.readTextFile(join(target, "bin/sh")), "shell");
      assert.equal(await Deno.readTextFile(join(target, "usr/app")), "app");
      await assert.rejects(
        Deno.stat(join(target, "gone")),
        Deno.errors.NotFound,
      );

      await Deno.writeTextFile(join(target, "new"), "written");
      await Deno.writeTextFile(join(target, "etc/os"), "changed");
    } finally {
      await unmountAll(target);
    }
    const upper = writableDir(mounts);
    assert.equal(await Deno.readTextFile(join(upper, "new")), "written");
    assert.equal(await Deno.readTextFile(join(upper, "etc/os")), "changed");
    const layer1 = join(root, "snapshots", "1", "fs");
    assert.equal(await Deno.readTextFile(join(layer1, "etc/os")), "one");
    const usage = await sn.usage("rootfs");
    assert.ok(usage.inodes >= 4, "root, etc, etc/os, new (and work files)");

    // A view on several layers is read-only.
    const viewMounts = await sn.view("look", "l3");
    try {
      await mountAll(viewMounts, target);
      assert.equal(await Deno.readTextFile(join(target, "etc/os")), "two");
      await assert.rejects(
        Deno.writeTextFile(join(target, "x"), "x"),
        /Read-only file system/,
      );
    } finally {
      await unmountAll(target);
    }

    // A view on one layer binds it read-only.
    const single = await sn.view("one", "l1");
    assert.equal(single[0].type, "bind");
    try {
      await mountAll(single, target);
      assert.equal(await Deno.readTextFile(join(target, "etc/os")), "one");
      await assert.rejects(Deno.writeTextFile(join(target, "x"), "x"));
    } finally {
      await unmountAll(target);
    }
  }));

Deno.test("overlay: opens an existing root from another instance", () =>
  withTempDir(async (root) => {
    const a = new OverlaySnapshotter({ root });
    await a.prepare("x");
    await a.close();
    const b = new OverlaySnapshotter({ root });
    try {
      assert.equal((await b.stat("x")).kind, "active");
    } finally {
      await b.close();
    }
  }));
