/**
 * Disk usage of a directory tree as containerd measures a snapshot's: the
 * blocks allocated (`st_blocks * 512`) and the number of distinct inodes,
 * each inode (by device and number) counted once, the root included.
 * Symbolic links are not followed.
 *
 * @module
 */
import { join } from "node:path";
import type { Usage } from "./snapshotter.ts";

/** The unit of `st_blocks`, in bytes. */
const BLOCK_SIZE = 512;

/** How many `lstat` calls run at once within one directory. */
const BATCH = 64;

/**
 * Walks `root` and sums its usage. Entries that vanish during the walk (a
 * running container deletes files) are skipped; a missing root is an error.
 */
export async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const count = (info: Deno.FileInfo) => {
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    size += (info.blocks ?? 0) * BLOCK_SIZE;
  };
  const rootInfo = await Deno.lstat(root);
  count(rootInfo);
  const pending = rootInfo.isDirectory ? [root] : [];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let names: string[];
    try {
      names = await Array.fromAsync(Deno.readDir(dir), (entry) => entry.name);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (let i = 0; i < names.length; i += BATCH) {
      const paths = names.slice(i, i + BATCH).map((name) => join(dir, name));
      const infos = await Promise.all(paths.map(lstatOrNull));
      infos.forEach((info, j) => {
        if (!info) return;
        count(info);
        if (info.isDirectory) pending.push(paths[j]);
      });
    }
  }
  return { size, inodes: seen.size };
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}
