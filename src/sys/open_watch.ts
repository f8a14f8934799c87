/**
 * Noticing that someone opened or read a file (a client's reader opening or
 * reading a FIFO), or that a file changed (a cgroup v2 `memory.events`),
 * through ONE `inotify(7)` instance for the whole process, waited on by the
 * process's poll loop (`poll.ts`).
 *
 * An open that waits for a FIFO's other end would hold one of Deno's ~32
 * blocking threads per FIFO, and then every file operation of the process
 * hangs; and an instance per watch would use up the host's inotify
 * instances (128 per user by default). One instance costs one descriptor
 * and no thread.
 *
 * The instance, once made, stays open for the life of the process; only
 * its wait stops while nothing is watched. Closing an inotify instance
 * waits in the kernel for a grace period of every mark's reader (~20 ms
 * measured here, longer under load), and a synchronous close does that on
 * the main thread: a shim closing it after each output FIFO was let go
 * stood still for ~40 ms at every process's end (an exec's stdout and
 * stderr), all of its containers with it.
 *
 * @module
 */
import { cString, errno, libcSymbols, SyscallError } from "./libc.ts";
import { poller, POLLIN } from "./poll.ts";

const SYMBOLS = {
  inotify_init1: { parameters: ["i32"], result: "i32" },
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  inotify_rm_watch: { parameters: ["i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = libcSymbols(SYMBOLS);

const IN_ACCESS = 0x1;
const IN_MODIFY = 0x2;
const IN_CLOSE_NOWRITE = 0x10;
const IN_OPEN = 0x20;
const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;

/** The process's inotify instance and what it watches. */
class FileWatcher {
  #fd: number | undefined;
  /** Listeners by watch descriptor (one per inode). */
  readonly #watches = new Map<number, Set<() => void>>();
  /** The running wait on the instance, undefined while nothing is watched. */
  #waiting: object | undefined;

  /**
   * Calls `onEvent` after `mask`'s events on `path` (a few may be noticed
   * together, or one be told twice, or another path's be told too:
   * `onEvent` checks what it waits for); returns the function that stops
   * watching.
   *
   * @throws {SyscallError} when `path` cannot be watched (e.g. gone).
   */
  watch(path: string, mask: number, onEvent: () => void): () => void {
    const fd = this.#fd ??= this.#open();
    const wd = libc().inotify_add_watch(fd, cString(path), mask);
    if (wd < 0) throw new SyscallError(`inotify_add_watch ${path}`, errno());
    let listeners = this.#watches.get(wd);
    if (!listeners) this.#watches.set(wd, listeners = new Set());
    // Its own function, so that one path watched twice is two listeners.
    const listener = () => onEvent();
    listeners.add(listener);
    if (!this.#waiting) this.#loop(fd, this.#waiting = {});
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.#watches.delete(wd);
      libc().inotify_rm_watch(fd, wd);
      if (this.#watches.size > 0) return;
      // Nothing watched: the wait ends (no thread, no pending operation),
      // the instance stays for the next watch.
      this.#waiting = undefined;
      poller.forget(fd);
    };
  }

  #open(): number {
    const fd = libc().inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) throw new SyscallError("inotify_init1", errno());
    return fd;
  }

  /** Waits on the instance until `waiting` is no longer the running wait. */
  async #loop(fd: number, waiting: object): Promise<void> {
    const events = new Uint8Array(4096);
    // Looked at before each wait too: a listener may have let go of the
    // last watch (or one more came and began its own wait) meanwhile.
    while (this.#waiting === waiting) {
      if (await poller.wait(fd, POLLIN) === 0) return;
      if (this.#waiting !== waiting) return;
      // The events only say that something happened: drain them, then
      // let every listener look (an overflowed queue loses none).
      while (libc().read(fd, events, BigInt(events.length)) > 0) { /* more */ }
      for (const listeners of [...this.#watches.values()]) {
        for (const listener of [...listeners]) listener();
      }
    }
  }
}

const watcher = new FileWatcher();

/**
 * Calls `onOpen` after opens of `path` until the returned function is
 * called. Opens made before the watch began are not told: check for what
 * you wait for once the watch is in place.
 *
 * @throws {SyscallError} when `path` cannot be watched.
 */
export function watchOpens(path: string, onOpen: () => void): () => void {
  return watcher.watch(path, IN_OPEN, onOpen);
}

/**
 * Calls `onChange` after writes to `path` (for a cgroup file: after the
 * kernel changed it) until the returned function is called. Changes made
 * before the watch began are not told: look once the watch is in place.
 *
 * @throws {SyscallError} when `path` cannot be watched.
 */
export function watchChanges(path: string, onChange: () => void): () => void {
  return watcher.watch(path, IN_MODIFY, onChange);
}

/**
 * Calls `onRead` after reads of `path` (a client's reader taking what is in
 * a FIFO) and after closes of its read-only opens, until the returned
 * function is called. Reads made before the watch began are not told: look
 * once the watch is in place.
 *
 * @throws {SyscallError} when `path` cannot be watched.
 */
export function watchReads(path: string, onRead: () => void): () => void {
  return watcher.watch(path, IN_ACCESS | IN_CLOSE_NOWRITE, onRead);
}
