/**
 * Network namespaces through `unshare(2)` and `setns(2)`.
 *
 * Entering a namespace changes only the calling thread. Deno runs JavaScript
 * on one thread, and its I/O ops are polled on that same thread between
 * turns of the event loop, so a namespace switch is safe when it is undone
 * before the next `await`: everything between {@linkcode unshareNet} or
 * {@linkcode enterNet} and the matching restore must be synchronous. Only the
 * network namespace is ever entered in-process; mount or user namespaces
 * would split what sync and async fs calls see.
 *
 * @module
 */
import { closeFd } from "./mount.ts";
import { cString, errno, libc, libcSymbols, SyscallError } from "./libc.ts";

const sys = libcSymbols({
  unshare: { parameters: ["i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
});

/** `CLONE_NEWNET`: the network namespace flag of unshare/setns. */
export const CLONE_NEWNET = 0x40000000;

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

/** The calling thread's own network namespace file. */
export const THREAD_NETNS = "/proc/thread-self/ns/net";

/** Opens a namespace file (read-only, close-on-exec); close with `closeFd`. */
export function openNamespace(path: string): number {
  const fd = libc().open(cString(path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError(`open ${path}`, errno());
  return fd;
}

function setns(fd: number, what: string): void {
  if (sys().setns(fd, CLONE_NEWNET) !== 0) {
    throw new SyscallError(`setns ${what}`, errno());
  }
}

/**
 * Runs `fn` synchronously inside the network namespace at `path`, then puts
 * the thread back into its own. `fn` must not return a promise: the switch
 * only holds until this call returns.
 *
 * @throws {SyscallError} when the namespace cannot be opened or entered.
 */
export function withNetns<T>(path: string, fn: () => T): T {
  const own = openNamespace(THREAD_NETNS);
  try {
    const target = openNamespace(path);
    try {
      setns(target, path);
    } finally {
      closeFd(target);
    }
    try {
      const result = fn();
      if (result instanceof Promise) {
        throw new TypeError("withNetns: fn must be synchronous");
      }
      return result;
    } finally {
      // Returning must not fail silently: a thread left in another netns
      // would put every later socket of the daemon there.
      setns(own, "back to the daemon's netns");
    }
  } finally {
    closeFd(own);
  }
}

/**
 * Creates a new network namespace and runs `fn` synchronously inside it
 * (typically to bind-mount {@linkcode THREAD_NETNS} onto a file, which
 * keeps the namespace alive), then returns the thread to its own netns.
 *
 * @throws {SyscallError} when unshare fails (EPERM without CAP_SYS_ADMIN).
 */
export function unshareNet<T>(fn: () => T): T {
  const own = openNamespace(THREAD_NETNS);
  try {
    if (sys().unshare(CLONE_NEWNET) !== 0) {
      throw new SyscallError("unshare CLONE_NEWNET", errno());
    }
    try {
      return fn();
    } finally {
      setns(own, "back to the daemon's netns");
    }
  } finally {
    closeFd(own);
  }
}
