import assert from "node:assert/strict";
import { MNT, mount, MS, umount2 } from "./mount.ts";
import { THREAD_NETNS, unshareNet, withNetns } from "./netns.ts";

function inode(path: string): number {
  return Deno.statSync(path).ino!;
}

Deno.test("unshareNet makes a namespace a bind mount keeps, withNetns enters it, the thread returns", () => {
  const dir = Deno.makeTempDirSync();
  const file = `${dir}/ns`;
  Deno.writeTextFileSync(file, "");
  const own = inode(THREAD_NETNS);
  try {
    const created = unshareNet(() => {
      mount(THREAD_NETNS, file, null, MS.BIND, null);
      return inode(THREAD_NETNS);
    });
    assert.notEqual(created, own);
    assert.equal(inode(THREAD_NETNS), own);
    assert.equal(inode(file), created);
    assert.equal(withNetns(file, () => inode(THREAD_NETNS)), created);
    assert.equal(inode(THREAD_NETNS), own);
  } finally {
    try {
      umount2(file, MNT.DETACH);
    } catch { /* never mounted */ }
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("withNetns on a file that is no namespace fails and leaves the thread home", () => {
  const own = inode(THREAD_NETNS);
  const file = Deno.makeTempFileSync();
  try {
    assert.throws(() => withNetns(file, () => 1), /setns/);
    assert.equal(inode(THREAD_NETNS), own);
  } finally {
    Deno.removeSync(file);
  }
});
