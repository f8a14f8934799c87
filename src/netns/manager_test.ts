import assert from "node:assert/strict";
import { join } from "node:path";
import { MetadataDB, NamespaceStore, NetnsStore } from "../metadata/mod.ts";
import { BerthError, Code } from "../types/mod.ts";
import { NetnsManager } from "./manager.ts";

async function withManager(
  fn: (manager: NetnsManager, dir: string) => Promise<void> | void,
) {
  const dir = await Deno.makeTempDir();
  const db = MetadataDB.open(join(dir, "meta.db"));
  const manager = new NetnsManager({
    store: new NetnsStore(db, new NamespaceStore(db)),
    dir: join(dir, "netns"),
    etcDir: join(dir, "etc"),
  });
  try {
    await fn(manager, dir);
  } finally {
    for (const ns of manager.list("t")) {
      manager.delete("t", ns.name, { force: true });
    }
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function codeOf(fn: () => unknown): Code | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof BerthError ? err.code : undefined;
  }
  return undefined;
}

Deno.test("netns: create, list with filters, labels, in-use delete refused, delete", async () => {
  await withManager(async (manager, dir) => {
    const ns = manager.create("t", { name: "a", labels: { x: "1" } });
    assert.equal(ns.path, join(dir, "netns", "t", "a"));
    assert.equal(ns.status, "ready");
    manager.create("t", { name: "b" });
    assert.deepEqual(manager.list("t", ["labels.x==1"]).map((n) => n.name), [
      "a",
    ]);
    assert.equal(
      codeOf(() => manager.create("t", { name: "a" })),
      Code.AlreadyExists,
    );
    assert.equal(
      codeOf(() => manager.create("t", { name: "x/y" })),
      Code.InvalidArgument,
    );
    assert.deepEqual(manager.list("other"), []);
    assert.deepEqual(
      manager.updateLabels("t", "b", { y: "2" }, ["labels.y"]).labels,
      { y: "2" },
    );
    const sleeper = new Deno.Command("nsenter", {
      args: [`--net=${ns.path}`, "sleep", "60"],
    }).spawn();
    try {
      while (manager.users("t", "a").length === 0) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(
        codeOf(() => manager.delete("t", "a")),
        Code.FailedPrecondition,
      );
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
    manager.delete("t", "a");
    assert.equal(codeOf(() => manager.get("t", "a")), Code.NotFound);
    await assert.rejects(Deno.stat(ns.path), Deno.errors.NotFound);
  });
});

Deno.test("netns: a vanished file is reported missing, and deleting it still works", async () => {
  await withManager((manager) => {
    const ns = manager.create("t", { name: "gone" });
    new Deno.Command("umount", { args: [ns.path] }).outputSync();
    Deno.removeSync(ns.path);
    assert.equal(manager.get("t", "gone").status, "missing");
    assert.deepEqual(manager.users("t", "gone"), []);
    manager.delete("t", "gone");
    assert.deepEqual(manager.list("t"), []);
  });
});
