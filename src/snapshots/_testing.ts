/**
 * Helpers for the snapshotters' tests: temporary roots, and performing
 * mounts with the `mount` program (the FFI mount component lives
 * elsewhere).
 *
 * @module
 */
import type { Mount } from "../types/mod.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "berth-snapshots-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a program; throws with its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** True when the tests run as root (and can mount). */
export const isRoot = Deno.uid() === 0;

/** Mounts each of `mounts` on `target`, in order, with `mount(8)`. */
export async function mountAll(
  mounts: readonly Mount[],
  target: string,
): Promise<void> {
  for (const m of mounts) {
    await run(
      "mount",
      "-t",
      m.type,
      "-o",
      m.options.join(","),
      m.source,
      target,
    );
  }
}

/** Unmounts everything on `target`, lazily when busy; never throws. */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 8; i++) {
    try {
      await run("umount", target);
    } catch {
      return;
    }
  }
}

/**
 * The directory a test writes a snapshot's contents into without mounting:
 * a bind mount's source, or an overlay's upper directory.
 */
export function writableDir(mounts: readonly Mount[]): string {
  const [m] = mounts;
  if (m.type === "bind") return m.source;
  const upper = m.options.find((o) => o.startsWith("upperdir="));
  if (!upper) throw new Error("read-only mounts");
  return upper.slice("upperdir=".length);
}

/** `du`'s view of a tree: bytes allocated and inodes, links counted once. */
export async function du(path: string): Promise<{
  size: number;
  inodes: number;
}> {
  const size = Number((await run("du", "-s", "-B1", path)).split(/\s/)[0]);
  const inodes = Number(
    (await run("du", "-s", "--inodes", path)).split(/\s/)[0],
  );
  return { size, inodes };
}
