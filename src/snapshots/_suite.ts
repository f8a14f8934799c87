/**
 * Tests every local snapshotter must pass, registered for each backend by
 * its own test file: the lifecycle, parent chains, errors with containerd's
 * codes, usage, walk filters, updates, atomicity, cleanup and reopening.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BerthError, Code } from "../types/mod.ts";
import { FilterSyntaxError } from "../filters/mod.ts";
import type { LocalSnapshotter } from "./local.ts";
import type { SnapshotInfo } from "./snapshotter.ts";
import { du, withTempDir, writableDir } from "./_testing.ts";

/** How a test file hands its snapshotter to the suite. */
export interface SuiteOptions {
  /** The snapshotter's name, prefixed to the tests' names. */
  name: string;
  /** Opens the snapshotter at `root`. */
  open: (root: string) => LocalSnapshotter;
}

/** A predicate for `assert.rejects`: a BerthError with `code` and message. */
export function berthError(code: Code, message?: string | RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BerthError, `not a BerthError: ${err}`);
    assert.equal(Code[err.code], Code[code], err.message);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

/** Runs `fn` with a snapshotter on a temporary root, closed afterwards. */
export async function withSnapshotter(
  open: (root: string) => LocalSnapshotter,
  fn: (sn: LocalSnapshotter, root: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (root) => {
    const sn = open(root);
    try {
      await fn(sn, root);
    } finally {
      await sn.close();
    }
  });
}

/** Commits a layer holding `files` (path → contents) on `parent`. */
export async function commitLayer(
  sn: LocalSnapshotter,
  name: string,
  parent: string,
  files: Record<string, string>,
): Promise<void> {
  const key = `${name}-extract`;
  const mounts = await sn.prepare(key, parent);
  const dir = writableDir(mounts);
  for (const [path, contents] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), contents);
  }
  await sn.commit(name, key);
}

async function collect(
  iterable: AsyncIterable<SnapshotInfo>,
): Promise<string[]> {
  const names: string[] = [];
  for await (const info of iterable) names.push(info.name);
  return names;
}

async function entries(dir: string): Promise<string[]> {
  const names = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
  return names.sort();
}

/** Registers the suite for one snapshotter. */
export function snapshotterSuite({ name, open }: SuiteOptions): void {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test(`${name}: ${title}`, fn);

  test("prepare, commit, stat, usage and remove a chain of three", () =>
    withSnapshotter(open, async (sn, root) => {
      const before = Date.now();
      const mounts = await sn.prepare("a", "", { labels: { x: "1" } });
      const dir = writableDir(mounts);
      await Deno.writeTextFile(join(dir, "one"), "1");

      const active = await sn.stat("a");
      assert.equal(active.kind, "active");
      assert.equal(active.name, "a");
      assert.equal(active.parent, "");
      assert.deepEqual(active.labels, { x: "1" });
      assert.ok(active.createdAt.getTime() >= before);
      assert.deepEqual(active.updatedAt, active.createdAt);
      assert.deepEqual(await sn.mounts("a"), mounts);

      const usage = await sn.usage("a");
      await sn.commit("base", "a", { labels: { y: "2" } });
      await assert.rejects(sn.stat("a"), berthError(Code.NotFound));
      const base = await sn.stat("base");
      assert.equal(base.kind, "committed");
      assert.equal(base.parent, "");
      assert.deepEqual(base.labels, { y: "2" }, "labels are not inherited");
      assert.deepEqual(await sn.usage("base"), usage);

      await commitLayer(sn, "mid", "base", { two: "2" });
      assert.equal((await sn.stat("mid")).parent, "base");
      await sn.prepare("top", "mid");
      await sn.view("look", "mid");
      const top = await sn.stat("top");
      assert.equal(top.kind, "active");
      assert.equal(top.parent, "mid");
      const look = await sn.stat("look");
      assert.equal(look.kind, "view");
      assert.equal(look.parent, "mid");
      assert.deepEqual(await sn.usage("look"), { size: 0, inodes: 0 });

      assert.deepEqual(await collect(sn.walk()), [
        "base",
        "look",
        "mid",
        "top",
      ]);

      await assert.rejects(
        sn.remove("mid"),
        berthError(
          Code.FailedPrecondition,
          "failed to remove: cannot remove snapshot with child: failed precondition",
        ),
      );
      for (const key of ["top", "look", "mid", "base"]) await sn.remove(key);
      assert.deepEqual(await collect(sn.walk()), []);
      assert.deepEqual(await entries(join(root, "snapshots")), []);
    }));

  test("ids are increasing integers naming the directories", () =>
    withSnapshotter(open, async (sn, root) => {
      await sn.prepare("a");
      await sn.prepare("b");
      await sn.prepare("c");
      assert.deepEqual(await entries(join(root, "snapshots")), [
        "1",
        "2",
        "3",
      ]);
      await sn.remove("c");
      await sn.prepare("d");
      assert.deepEqual(await entries(join(root, "snapshots")), [
        "1",
        "2",
        "4",
      ]);
      assert.ok((await Deno.stat(join(root, "metadata.db"))).isFile);
    }));

  test("errors carry containerd's codes", () =>
    withSnapshotter(open, async (sn) => {
      await commitLayer(sn, "base", "", { f: "x" });
      await sn.prepare("work", "base");
      await sn.view("look", "base");

      await assert.rejects(
        sn.stat("nope"),
        berthError(Code.NotFound, "snapshot nope does not exist: not found"),
      );
      await assert.rejects(
        sn.prepare("work", "base"),
        berthError(
          Code.AlreadyExists,
          "failed to create snapshot: snapshot work: already exists",
        ),
      );
      await assert.rejects(
        sn.prepare("base"),
        berthError(Code.AlreadyExists),
      );
      await assert.rejects(
        sn.prepare("x", "missing"),
        berthError(
          Code.NotFound,
          'failed to create snapshot: missing parent "missing": not found',
        ),
      );
      await assert.rejects(
        sn.prepare("x", "work"),
        berthError(
          Code.InvalidArgument,
          'failed to create snapshot: parent "work" is not committed snapshot: invalid argument',
        ),
      );
      await assert.rejects(
        sn.view("x", "look"),
        berthError(Code.InvalidArgument),
      );
      await assert.rejects(sn.prepare(""), berthError(Code.InvalidArgument));
      await assert.rejects(
        sn.commit("done", "look"),
        berthError(
          Code.FailedPrecondition,
          'failed to commit snapshot: snapshot "look" is not active: failed precondition',
        ),
      );
      await assert.rejects(
        sn.commit("again", "base"),
        berthError(Code.FailedPrecondition),
      );
      await assert.rejects(
        sn.commit("base", "work"),
        berthError(
          Code.AlreadyExists,
          "failed to commit snapshot: committed snapshot base: already exists",
        ),
      );
      await assert.rejects(
        sn.commit("done", "nope"),
        berthError(Code.NotFound),
      );
      await assert.rejects(
        sn.commit("", "work"),
        berthError(Code.InvalidArgument),
      );
      await assert.rejects(
        sn.mounts("base"),
        berthError(Code.FailedPrecondition, /not active or view/),
      );
      await assert.rejects(
        sn.mounts("nope"),
        berthError(Code.NotFound, /^failed to get .* mount: snapshot nope/),
      );
      await assert.rejects(
        sn.remove("nope"),
        berthError(
          Code.NotFound,
          "failed to remove: snapshot nope: not found",
        ),
      );
      await assert.rejects(
        sn.remove("base"),
        berthError(Code.FailedPrecondition),
      );
      await assert.rejects(
        sn.update({ name: "nope", labels: {} }),
        berthError(Code.NotFound),
      );
      await assert.rejects(
        sn.update({ name: "base" }, ["parent"]),
        berthError(
          Code.InvalidArgument,
          'cannot update "parent" field on snapshot "base": invalid argument',
        ),
      );
      await assert.rejects(sn.usage("nope"), berthError(Code.NotFound));
      await assert.rejects(
        collect(sn.walk(["name=="])),
        FilterSyntaxError,
      );
      await assert.rejects(
        sn.prepare("big", "", { labels: { k: "v".repeat(5000) } }),
        berthError(Code.InvalidArgument, /greater than maximum size/),
      );
      // Nothing changed.
      assert.deepEqual(await collect(sn.walk()), ["base", "look", "work"]);
    }));

  test("a failed creation leaves no record and no directory", () =>
    withSnapshotter(open, async (sn, root) => {
      await commitLayer(sn, "base", "", { f: "x" });
      const dirs = await entries(join(root, "snapshots"));
      for (const parent of ["", "base"]) {
        await assert.rejects(
          sn.prepare("big", parent, { labels: { k: "v".repeat(5000) } }),
          berthError(Code.InvalidArgument),
        );
        await assert.rejects(sn.stat("big"), berthError(Code.NotFound));
        assert.deepEqual(await entries(join(root, "snapshots")), dirs);
      }
    }));

  test("update replaces labels, or the named ones", () =>
    withSnapshotter(open, async (sn) => {
      await sn.prepare("a", "", { labels: { a: "1", b: "2", empty: "" } });
      const created = await sn.stat("a");
      assert.deepEqual(created.labels, { a: "1", b: "2" });
      await new Promise((resolve) => setTimeout(resolve, 5));

      let info = await sn.update({ name: "a", labels: { b: "3", c: "4" } }, [
        "labels.b",
        "labels.a",
      ]);
      assert.deepEqual(info.labels, { b: "3" });
      assert.equal(info.kind, "active");
      assert.equal(info.name, "a");
      assert.deepEqual(info.createdAt, created.createdAt);
      assert.ok(info.updatedAt > created.updatedAt);
      assert.deepEqual(await sn.stat("a"), info);

      info = await sn.update({ name: "a", labels: { z: "9", e: "" } }, [
        "labels",
      ]);
      assert.deepEqual(info.labels, { z: "9" });
      info = await sn.update({ name: "a", labels: { q: "1" } });
      assert.deepEqual(info.labels, { q: "1" });
      info = await sn.update({ name: "a" });
      assert.deepEqual(info.labels, {});
    }));

  test("walk filters on kind, name, parent and labels", () =>
    withSnapshotter(open, async (sn) => {
      await commitLayer(sn, "base", "", {});
      await sn.update({ name: "base", labels: { "com.example.x": "1" } });
      await sn.prepare("work", "base", { labels: { role: "rw" } });
      await sn.view("look", "base");
      await sn.prepare("alone");
      assert.deepEqual(await collect(sn.walk(["kind==committed"])), ["base"]);
      assert.deepEqual(await collect(sn.walk(["kind==active"])), [
        "alone",
        "work",
      ]);
      assert.deepEqual(await collect(sn.walk(["parent==base"])), [
        "look",
        "work",
      ]);
      assert.deepEqual(await collect(sn.walk(['parent==""'])), [
        "alone",
        "base",
      ]);
      assert.deepEqual(
        await collect(sn.walk(['labels."com.example.x"==1'])),
        ["base"],
      );
      assert.deepEqual(await collect(sn.walk(["labels.role"])), ["work"]);
      assert.deepEqual(
        await collect(sn.walk(["name~=^(l|a)", "kind==committed"])),
        ["alone", "base", "look"],
      );
      assert.deepEqual(
        await collect(sn.walk(["kind==active,parent==base"])),
        ["work"],
      );
    }));

  test("usage of an active snapshot counts blocks and inodes once", () =>
    withSnapshotter(open, async (sn) => {
      const dir = writableDir(await sn.prepare("a"));
      const empty = await sn.usage("a");
      assert.equal(empty.inodes, 1, "the root alone");
      await Deno.writeFile(join(dir, "ten-k"), new Uint8Array(10_000).fill(1));
      await Deno.writeFile(join(dir, "one"), new Uint8Array([1]));
      await Deno.link(join(dir, "one"), join(dir, "one-again"));
      await Deno.symlink("one", join(dir, "link"));
      await Deno.mkdir(join(dir, "sub"));
      const usage = await sn.usage("a");
      assert.equal(usage.inodes, 5, "root, ten-k, one, link, sub");
      const blocks = (await Deno.stat(join(dir, "ten-k"))).blocks! * 512;
      assert.ok(blocks >= 10_000);
      assert.ok(usage.size >= empty.size + blocks);
      assert.deepEqual(usage, await du(dir));
      await sn.commit("done", "a");
      assert.deepEqual(await sn.usage("done"), usage);
      // Committed usage is recorded, not measured again.
      await Deno.writeFile(join(dir, "later"), new Uint8Array(8192).fill(1));
      assert.deepEqual(await sn.usage("done"), usage);
    }));

  test("cleanup removes directories no record refers to", () =>
    withSnapshotter(open, async (sn, root) => {
      await commitLayer(sn, "base", "", { f: "x" });
      await sn.prepare("work", "base");
      const snapshots = join(root, "snapshots");
      const kept = await entries(snapshots);
      for (const leftover of ["new-123", "rm-7", "99"]) {
        await Deno.mkdir(join(snapshots, leftover, "fs", "deep"), {
          recursive: true,
        });
      }
      await sn.cleanup();
      assert.deepEqual(await entries(snapshots), kept);
      await sn.stat("work");
    }));

  test("records survive reopening; ids are never reused", () =>
    withTempDir(async (root) => {
      let sn = open(root);
      await commitLayer(sn, "base", "", { f: "x" });
      await sn.prepare("work", "base", { labels: { l: "1" } });
      await sn.prepare("gone");
      await sn.remove("gone");
      const before = await sn.stat("work");
      await sn.close();
      await assert.rejects(sn.stat("work"), berthError(Code.Unavailable));
      await sn.close();

      sn = open(root);
      try {
        assert.deepEqual(await sn.stat("work"), before);
        await sn.prepare("next");
        assert.deepEqual(await entries(join(root, "snapshots")), [
          "1",
          "2",
          "4",
        ]);
      } finally {
        await sn.close();
      }
    }));

  test("concurrent creations and cleanup keep every snapshot", () =>
    withSnapshotter(open, async (sn, root) => {
      await commitLayer(sn, "base", "", { f: "x" });
      const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);
      await Promise.all([
        ...keys.map((key, i) => sn.prepare(key, i % 2 ? "base" : "")),
        sn.cleanup(),
        sn.cleanup(),
      ]);
      const results = await Promise.allSettled(
        keys.map((key) => sn.prepare(key)),
      );
      assert.ok(results.every((r) => r.status === "rejected"));
      await sn.cleanup();
      const dirs = await entries(join(root, "snapshots"));
      assert.equal(dirs.length, keys.length + 1);
      for (const key of keys) {
        const mounts = await sn.mounts(key);
        assert.ok((await Deno.stat(writableDir(mounts))).isDirectory);
      }
    }));
}
