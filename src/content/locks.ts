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

/** A held lock's start and the callers queued for it, first come first. */
interface Holding {
  since: Date;
  waiters: Array<(lock: RefLock) => void>;
}

/** Lock keys held now. */
const held = new Map<string, Holding>();

/**
 * Takes the lock on `key` (an ingest directory) for `ref`, or throws
 * Unavailable (`ref X locked for 1.2s (since …)`) when it is held.
 */
export function tryLockRef(key: string, ref: string): RefLock {
  const holding = held.get(key);
  if (holding) throw lockedError(ref, holding.since);
  return take(key, []);
}

/** Takes the free lock on `key`, `waiters` still queued behind it. */
function take(key: string, waiters: Holding["waiters"]): RefLock {
  const holding: Holding = { since: new Date(), waiters };
  held.set(key, holding);
  let released = false;
  return {
    since: holding.since,
    release() {
      if (released) return;
      released = true;
      if (held.get(key) !== holding) return;
      held.delete(key);
      // Handed straight to the longest waiter: nobody polls, and a crowd
      // of writers for one ref is served one after the other.
      const next = waiters.shift();
      if (next) next(take(key, waiters));
    },
  };
}

/** Options of {@linkcode lockRef}. */
export interface LockRefOptions {
  /** Milliseconds to wait for the holder to let go (default 1000). */
  waitMs?: number;
}

/**
 * Takes the lock on `key`, waiting a while for a holder that is about to
 * let go (containerd retries for about as long).
 *
 * @throws Unavailable when still held after the wait.
 */
export function lockRef(
  key: string,
  ref: string,
  options: LockRefOptions = {},
): Promise<RefLock> {
  const holding = held.get(key);
  if (!holding) return Promise.resolve(take(key, []));
  return new Promise((resolve, reject) => {
    const waiter = (lock: RefLock) => {
      clearTimeout(timer);
      resolve(lock);
    };
    const timer = setTimeout(() => {
      const waiters = held.get(key)?.waiters ?? [];
      const at = waiters.indexOf(waiter);
      if (at >= 0) waiters.splice(at, 1);
      reject(lockedError(ref, held.get(key)?.since ?? holding.since));
    }, options.waitMs ?? 1000);
    holding.waiters.push(waiter);
  });
}

/** Unavailable, worded as containerd words a held ref. */
function lockedError(ref: string, since: Date) {
  return unavailable(
    `ref ${ref} locked for ${
      formatDuration(Date.now() - since.getTime())
    } (since ${since.toISOString()})`,
  );
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
