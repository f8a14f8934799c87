import assert from "node:assert/strict";
import { detachedTmpfs } from "./detached_tmpfs.ts";

/**
 * Mounted tmpfs of 64 KiB (the test's size): other processes of the host
 * mount and unmount other things meanwhile.
 */
function mountCount(): number {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .filter((line) => / - tmpfs \S+ \S*\bsize=64k\b/.test(line)).length;
}

Deno.test("a detached tmpfs is private, usable by other processes, in no mount table, and gone once closed", async () => {
  const before = mountCount();
  const tmpfs = detachedTmpfs({ size: "64k" });
  const path = tmpfs.path;
  try {
    assert.match(path, new RegExp(`^/proc/${Deno.pid}/fd/\\d+$`));
    assert.equal(mountCount(), before);
    const info = Deno.statSync(path);
    assert.ok(info.isDirectory);
    assert.equal(info.mode! & 0o777, 0o700);
    // Another process writes a file and renames it, as runc writes a pid
    // file; this one reads it.
    const wrote = await new Deno.Command("sh", {
      args: ["-c", `echo 42 > "$1/.x" && mv "$1/.x" "$1/x"`, "sh", path],
    }).output();
    assert.ok(wrote.success, new TextDecoder().decode(wrote.stderr));
    assert.equal(Deno.readTextFileSync(`${path}/x`), "42\n");
    // Its size is bounded.
    assert.throws(
      () => Deno.writeFileSync(`${path}/big`, new Uint8Array(128 * 1024)),
      /No space left/,
    );
  } finally {
    tmpfs.close();
  }
  tmpfs.close();
  assert.throws(() => Deno.statSync(`${path}/x`), Deno.errors.NotFound);
});
