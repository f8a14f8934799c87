/**
 * In-process locks on ingest refs: one writer per ref at a time.
 *
 * Locks are keyed by the ingest directory's path and shared by every store
 * in the process, so two store instances on the same root exclude each other
 * too. Another process on the same root is not excluded: the daemon holds a
 * lock on its root for that.
 *
 * @module
 */
import { unavailable } from "../types/mod.ts";

/** A held ref lock. */
export interface RefLock {
  /** When the lock was taken. */
  readonly since: Date;
  /** Lets the lock go; calling it again does nothing. */
  release(): void;
}

/** Lock keys held now, with when each was taken. */
const held = new Map<string, Date>();

/**
 * Takes the lock on `key` (an ingest directory) for `ref`, or throws
 * Unavailable (`ref X locked for 1.2s (since …)`) when it is held.
 */
export function tryLockRef(key: string, ref: string): RefLock {
  const since = held.get(key);
  if (since) {
    const now = new Date();
    throw unavailable(
      `ref ${ref} locked for ${
        formatDuration(now.getTime() - since.getTime())
      } (since ${since.toISOString()})`,
    );
  }
  const taken = new Date();
  held.set(key, taken);
  let released = false;
  return {
    since: taken,
    release() {
      if (released) return;
      released = true;
      if (held.get(key) === taken) held.delete(key);
    },
  };
}

/** Options of {@linkcode lockRef}. */
export interface LockRefOptions {
  /** How many times to try before giving up (default 10). */
  attempts?: number;
}

/**
 * Takes the lock on `key`, retrying with a short random backoff (doubling up
 * to ~0.5 s) for a holder that is about to let go, as containerd does.
 *
 * @throws Unavailable when still held after the last attempt.
 */
export async function lockRef(
  key: string,
  ref: string,
  options: LockRefOptions = {},
): Promise<RefLock> {
  const attempts = options.attempts ?? 10;
  for (let count = 0;; count++) {
    try {
      return tryLockRef(key, ref);
    } catch (err) {
      if (count + 1 >= attempts) throw err;
    }
    const delay = Math.floor(Math.random() * (1 << count));
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** True while `key` is locked. */
export function isRefLocked(key: string): boolean {
  return held.has(key);
}

/** A duration in Go's style: `850ms`, `3.2s`, `2m5s`, `1h0m3s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const totalSeconds = ms / 1000;
  if (totalSeconds < 60) return `${trimDecimals(totalSeconds)}s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = trimDecimals(totalSeconds % 60);
  return hours > 0
    ? `${hours}h${minutes}m${seconds}s`
    : `${minutes}m${seconds}s`;
}

/** `n` with at most three decimals and no trailing zeros. */
function trimDecimals(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
