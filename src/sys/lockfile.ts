/**
 * An exclusive, non-blocking `flock(2)` on a file, held until released or
 * until the process dies (the kernel drops it then, so a crash never leaves a
 * stale lock).
 *
 * @module
 */
import { cString, Errno, errno, libc, SyscallError } from "./libc.ts";

const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_CLOEXEC = 0o2000000;
const LOCK_EX = 2;
const LOCK_NB = 4;

/** A held lock; {@linkcode LockFile.release} lets it go. */
export interface LockFile {
  /** The locked file's path. */
  readonly path: string;
  /** Releases the lock and closes the file. */
  release(): void;
}

/** Thrown when another process holds the lock. */
export class LockHeldError extends Error {
  /** Creates the error for `path`. */
  constructor(path: string) {
    super(`${path} is locked by another process`);
    this.name = "LockHeldError";
  }
}

/**
 * Takes an exclusive lock on `path` (created 0600 when missing).
 *
 * @throws {LockHeldError} when another process holds it.
 */
export function acquireLock(path: string): LockFile {
  const c = libc();
  const fd = c.open(cString(path), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
  if (fd < 0) throw new SyscallError(`open ${path}`, errno());
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const code = errno();
    c.close(fd);
    if (code === Errno.EWOULDBLOCK) throw new LockHeldError(path);
    throw new SyscallError(`flock ${path}`, code);
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      c.close(fd);
    },
  };
}
