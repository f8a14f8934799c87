/**
 * Mounts for the length of one callback, in a fresh temporary directory.
 *
 * @module
 */
import { join } from "node:path";
import type { Mount } from "../types/mod.ts";
import { mountAll } from "./mount.ts";
import { readonlyMounts } from "./readonly.ts";
import { unmountRecursive } from "./unmount.ts";

/** Name prefix of the temporary mount directories. */
export const TEMP_MOUNT_PREFIX = "berth-mount";

/** Options for {@linkcode withTempMount}. */
export interface TempMountOptions {
  /** Directory to create the temporary mount point in; default `$TMPDIR` or `/tmp`. */
  root?: string;
}

/** Where temporary mount points go by default: `$TMPDIR`, else `/tmp`. */
export function defaultTempMountRoot(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp";
  }
}

/**
 * Unmounts everything at and under `dir` (detaching as a last resort) and
 * removes `dir`, which must then be empty: it is never removed recursively,
 * so a failed unmount cannot delete the mounted data. Returns the error, if
 * any.
 */
async function release(dir: string): Promise<unknown> {
  try {
    await unmountRecursive(dir);
  } catch {
    try {
      await unmountRecursive(dir, { detach: true });
    } catch (err) {
      return err;
    }
  }
  try {
    await Deno.remove(dir);
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * Mounts `mounts` (in order) on a new temporary directory, calls `fn` with
 * its path and returns what `fn` returns. Whatever happens, everything
 * mounted there is unmounted and the directory removed afterwards.
 *
 * @throws the mount error or `fn`'s error; an error from cleaning up; an
 *   `AggregateError` of both when `fn` and the clean-up fail.
 */
export async function withTempMount<T>(
  mounts: readonly Mount[],
  fn: (dir: string) => T | Promise<T>,
  options: TempMountOptions = {},
): Promise<T> {
  const dir = await Deno.makeTempDir({
    dir: options.root ?? defaultTempMountRoot(),
    prefix: TEMP_MOUNT_PREFIX,
  });
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    await mountAll(mounts, dir);
    outcome = { ok: true, value: await fn(dir) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const cleanup = await release(dir);
  if (cleanup !== undefined) {
    if (!outcome.ok) {
      throw new AggregateError(
        [outcome.error, cleanup],
        `temporary mount ${dir}: ${outcome.error}; clean-up: ${cleanup}`,
      );
    }
    throw cleanup;
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/**
 * {@linkcode withTempMount} with {@linkcode readonlyMounts} of `mounts`:
 * nothing `fn` does can change them.
 */
export function withReadonlyTempMount<T>(
  mounts: readonly Mount[],
  fn: (dir: string) => T | Promise<T>,
  options: TempMountOptions = {},
): Promise<T> {
  return withTempMount(readonlyMounts(mounts), fn, options);
}

/**
 * Cleans up after a crash: unmounts and removes every temporary mount
 * directory left in `root` (default {@linkcode defaultTempMountRoot}). Meant
 * for start-up, while no {@linkcode withTempMount} call is running there.
 * Returns the problems met; directories that cannot be cleaned are left.
 */
export async function cleanupTempMounts(
  root: string = defaultTempMountRoot(),
): Promise<unknown[]> {
  const problems: unknown[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(root));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith(TEMP_MOUNT_PREFIX)) {
      continue;
    }
    const problem = await release(join(root, entry.name));
    if (problem !== undefined) problems.push(problem);
  }
  return problems;
}
