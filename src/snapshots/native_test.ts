import assert from "node:assert/strict";
import { join } from "node:path";
import { Code } from "../types/mod.ts";
import { NativeSnapshotter } from "./native.ts";
import {
  berthError,
  commitLayer,
  snapshotterSuite,
  withSnapshotter,
} from "./_suite.ts";
import {
  isRoot,
  mountAll,
  unmountAll,
  withTempDir,
  writableDir,
} from "./_testing.ts";

const open = (root: string) => new NativeSnapshotter({ root });

snapshotterSuite({ name: "native", open });

Deno.test("native: mounts are containerd's", () =>
  withSnapshotter(open, async (sn, root) => {
    const dir = (id: number) => join(root, "snapshots", String(id));
    assert.equal(sn.name, "native");
    assert.deepEqual(await sn.prepare("a"), [
      { type: "bind", source: dir(1), options: ["rbind", "rw"] },
    ]);
    assert.deepEqual(await sn.view("v0"), [
      { type: "bind", source: dir(2), options: ["rbind", "ro"] },
    ]);
    await sn.commit("l1", "a");
    assert.deepEqual(await sn.prepare("b", "l1"), [
      { type: "bind", source: dir(3), options: ["rbind", "rw"] },
    ]);
    await sn.commit("l2", "b");
    // A view on a parent binds the parent itself and has no directory.
    assert.deepEqual(await sn.view("v2", "l2"), [
      { type: "bind", source: dir(3), options: ["rbind", "ro"] },
    ]);
    await assert.rejects(Deno.stat(dir(4)), Deno.errors.NotFound);
    assert.deepEqual(await sn.mounts("v2"), await sn.view("v3", "l2"));
    await sn.remove("v2");
    await sn.cleanup();
    assert.ok((await Deno.stat(dir(3))).isDirectory);
  }));

Deno.test("native: an active snapshot starts as a copy of its parent chain", () =>
  withSnapshotter(open, async (sn) => {
    await commitLayer(sn, "l1", "", { "etc/os": "one", "bin/sh": "sh" });
    const dir1 = writableDir(await sn.prepare("x", "l1"));
    await Deno.writeTextFile(join(dir1, "etc/os"), "two");
    await Deno.remove(join(dir1, "bin/sh"));
    await Deno.chmod(dir1, 0o750);
    await sn.commit("l2", "x");
    await commitLayer(sn, "l3", "l2", { "usr/app": "app" });

    const top = writableDir(await sn.prepare("top", "l3"));
    assert.equal(await Deno.readTextFile(join(top, "etc/os")), "two");
    assert.equal(await Deno.readTextFile(join(top, "usr/app")), "app");
    await assert.rejects(Deno.stat(join(top, "bin/sh")), Deno.errors.NotFound);
    assert.equal((await Deno.stat(top)).mode! & 0o777, 0o750);

    // Writes stay in the copy.
    await Deno.writeTextFile(join(top, "etc/os"), "three");
    const [l3] = await sn.view("look", "l3");
    assert.equal(await Deno.readTextFile(join(l3.source, "etc/os")), "two");
  }));

Deno.test("native: a failed copy leaves no record and no directory", () =>
  withTempDir(async (root) => {
    const sn = new NativeSnapshotter({ root, cp: "false" });
    try {
      await commitLayer(sn, "l1", "", { f: "x" });
      await assert.rejects(sn.prepare("b", "l1"), /copy .* failed/);
      await assert.rejects(sn.stat("b"), berthError(Code.NotFound));
      const names = await Array.fromAsync(
        Deno.readDir(join(root, "snapshots")),
        (e) => e.name,
      );
      assert.deepEqual(names, ["1"]);
    } finally {
      await sn.close();
    }
  }));

Deno.test("native: committing a view on a parent fails cleanly", () =>
  withSnapshotter(open, async (sn) => {
    await commitLayer(sn, "l1", "", {});
    await sn.view("v", "l1");
    await assert.rejects(
      sn.commit("c", "v"),
      berthError(Code.FailedPrecondition),
    );
  }));

Deno.test("native: mounted views are read-only binds", {
  ignore: !isRoot,
}, () =>
  withSnapshotter(open, async (sn, root) => {
    await commitLayer(sn, "l1", "", { f: "x" });
    const target = join(root, "mnt");
    await Deno.mkdir(target);
    try {
      await mountAll(await sn.view("v", "l1"), target);
      assert.equal(await Deno.readTextFile(join(target, "f")), "x");
      await assert.rejects(
        Deno.writeTextFile(join(target, "y"), "y"),
        /Read-only file system/,
      );
    } finally {
      await unmountAll(target);
    }
    try {
      await mountAll(await sn.prepare("w", "l1"), target);
      await Deno.writeTextFile(join(target, "y"), "y");
    } finally {
      await unmountAll(target);
    }
    const [w] = await sn.mounts("w");
    assert.equal(await Deno.readTextFile(join(w.source, "y")), "y");
  }));
