import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { watchOpens } from "./open_watch.ts";

/** Runs `test` with a FIFO `path` in a temporary directory `dir`. */
async function withFifo(test: (path: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/fifo`;
    const made = await new Deno.Command("mkfifo", { args: [path] }).output();
    assert.ok(made.success);
    await test(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens `path` to read and closes it again (a FIFO's reader that comes). */
function openAndClose(path: string) {
  closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
}

Deno.test("watchOpens tells of each open of the path until stopped", async () => {
  await withFifo(async (path, dir) => {
    const opened = Promise.withResolvers<void>();
    let told = 0;
    const stop = watchOpens(path, () => {
      told++;
      opened.resolve();
    });
    openAndClose(path);
    await opened.promise;
    stop();
    const before = told;
    // No longer watched (the test would not end with the watch left).
    openAndClose(path);
    assert.equal(told, before);
    assert.throws(
      () => watchOpens(`${dir}/missing`, () => {}),
      /ENOENT|No such file/,
    );
  });
});

/**
 * The descriptor of the process's inotify instance watching inode `ino`
 * (its fdinfo lists each watch's inode in hex), or undefined.
 */
function instanceWatching(ino: number): number | undefined {
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const fd = `/proc/self/fd/${entry.name}`;
      if (Deno.readLinkSync(fd) !== "anon_inode:inotify") continue;
      const info = Deno.readTextFileSync(`/proc/self/fdinfo/${entry.name}`);
      if (info.includes(` ino:${ino.toString(16)} `)) return Number(entry.name);
    } catch {
      // closed meanwhile (the directory's own descriptor)
    }
  }
  return undefined;
}

/** Whether descriptor `fd` is an inotify instance. */
function isInstance(fd: number): boolean {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${fd}`) === "anon_inode:inotify";
  } catch {
    return false;
  }
}

Deno.test("watchOpens keeps one inotify instance from watch to watch, waiting on it only while watching", async () => {
  await withFifo(async (path) => {
    const ino = Deno.statSync(path).ino!;
    const instances = [];
    for (let round = 0; round < 3; round++) {
      const opened = Promise.withResolvers<void>();
      const stop = watchOpens(path, () => opened.resolve());
      const instance = instanceWatching(ino);
      assert.ok(instance !== undefined, "the path is watched");
      instances.push(instance);
      openAndClose(path);
      await opened.promise;
      stop();
      assert.equal(instanceWatching(ino), undefined, "the watch is gone");
      // Closing an instance would wait for a kernel grace period on the
      // thread that closes it: it stays open for the next watch.
      assert.ok(isInstance(instance), "the instance stays open");
    }
    assert.deepEqual(instances, [instances[0], instances[0], instances[0]]);
  });
});
