import assert from "node:assert/strict";
import { join } from "node:path";
import { OpenBlobs } from "./_open_blobs.ts";

async function withFiles(
  names: string[],
  fn: (path: (name: string) => string) => void | Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "berth-open-blobs-" });
  try {
    for (const name of names) await Deno.writeTextFile(join(dir, name), name);
    await fn((name) => join(dir, name));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("open blobs: one file per blob, its size read once, shared by its readers", async () => {
  await withFiles(["abc"], (path) => {
    const files = new OpenBlobs({ pathOf: path });
    try {
      const a = files.acquire("abc");
      const b = files.acquire("abc");
      assert.equal(a, b);
      assert.equal(a.size, 3);
      assert.equal(a.users, 2);
      files.release(a);
      files.release(b);
      assert.equal(files.size, 1);
      assert.throws(
        () => files.acquire("missing"),
        Deno.errors.NotFound,
      );
      assert.equal(files.size, 1);
    } finally {
      files.close();
    }
  });
});

Deno.test("open blobs: a forgotten file closes once its last reader is done", async () => {
  await withFiles(["abc"], (path) => {
    const files = new OpenBlobs({ pathOf: path });
    const held = files.acquire("abc");
    files.forget("abc");
    assert.equal(files.size, 0);
    // Still readable by the one holding it…
    const buffer = new Uint8Array(3);
    held.file.seekSync(0, Deno.SeekMode.Start);
    assert.equal(held.file.readSync(buffer), 3);
    // …and a new reader opens the path anew.
    const fresh = files.acquire("abc");
    assert.notEqual(fresh, held);
    files.release(held);
    assert.throws(() => held.file.readSync(buffer), Deno.errors.BadResource);
    files.release(fresh);
    files.close();
  });
});

Deno.test("open blobs: past the limit the oldest idle file is closed, never one being read", async () => {
  await withFiles(["a", "b", "c"], (path) => {
    const files = new OpenBlobs({ pathOf: path, max: 2 });
    try {
      const a = files.acquire("a");
      files.release(files.acquire("b"));
      files.release(files.acquire("c"));
      // "a" is being read: "b" went instead.
      assert.equal(files.size, 2);
      assert.equal(files.acquire("a"), a);
      files.release(a);
      files.release(a);
      assert.equal(a.users, 0);
    } finally {
      files.close();
    }
  });
});

Deno.test("open blobs: files nobody reads are closed by the idle check", async () => {
  await withFiles(["a"], async (path) => {
    const files = new OpenBlobs({ pathOf: path, idleMs: 1 });
    try {
      files.release(files.acquire("a"));
      // The check runs every idleMs: the file goes on the second one.
      while (files.size > 0) await new Promise((r) => setTimeout(r, 1));
    } finally {
      files.close();
    }
  });
});
