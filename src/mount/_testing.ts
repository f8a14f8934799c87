/**
 * Test helpers: a private temporary directory per test, and proof from
 * `/proc/self/mountinfo` that no mount under it outlives the test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mountsUnder, readMountInfo } from "./mountinfo.ts";
import { unmountRecursive } from "./unmount.ts";

/** Mount points under `dir` in this process's mountinfo. */
export function mountPointsUnder(dir: string): string[] {
  return mountsUnder(dir, readMountInfo()).map((m) => m.mountPoint);
}

/**
 * Runs `fn` with a fresh directory. Afterwards asserts that mountinfo shows
 * nothing under it (as before the test); if something leaked it is
 * detached, and the directory is removed only when nothing is mounted.
 */
export async function withTestDir(
  fn: (dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-mount-test-" });
  assert.deepEqual(mountPointsUnder(dir), [], "mounts before the test");
  let leaked: string[] = [];
  try {
    await fn(dir);
  } finally {
    leaked = mountPointsUnder(dir);
    if (leaked.length > 0) await unmountRecursive(dir, { detach: true });
    if (mountPointsUnder(dir).length === 0) {
      await Deno.remove(dir, { recursive: true });
    }
  }
  assert.deepEqual(leaked, [], "mounts left behind by the test");
}

/** Writes `files` (path relative to `dir` → content), creating parents. */
export async function writeTree(
  dir: string,
  files: Record<string, string>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
}
