/**
 * Waiting for processes that are not this one's children to end, through
 * pidfds (`pidfd_open(2)`): a pidfd is readable once its process has
 * exited, whoever reaps it, and names that process even if its pid is
 * reused meanwhile. The waits go to the shared poll loop, no timer.
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";
import { closeFd } from "./fdio.ts";
import { poller, POLLIN } from "./poll.ts";

const SYMBOLS = {
  pidfd_open: { parameters: ["i32", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = libcSymbols(SYMBOLS);

const ESRCH = 3;

/**
 * Pins processes `pids` now (those already gone are skipped), so that
 * {@linkcode ProcessSet.ended} later waits for exactly these processes.
 */
export class ProcessSet {
  readonly #fds: number[] = [];

  /** Opens a pidfd for each of `pids` still running. */
  constructor(pids: Iterable<number>) {
    for (const pid of pids) {
      const fd = libc().pidfd_open(pid, 0);
      if (fd >= 0) this.#fds.push(fd);
      else if (errno() !== ESRCH) {
        this.close();
        throw new SyscallError(`pidfd_open ${pid}`, errno());
      }
    }
  }

  /** How many processes the set holds. */
  get size(): number {
    return this.#fds.length;
  }

  /**
   * Resolves true once every process of the set has exited, or false
   * when `signal` aborts first; the set is closed either way.
   */
  async ended(signal?: AbortSignal): Promise<boolean> {
    const forget = () => this.close();
    signal?.addEventListener("abort", forget, { once: true });
    try {
      await Promise.all(this.#fds.map((fd) => poller.wait(fd, POLLIN)));
      return !signal?.aborted;
    } finally {
      signal?.removeEventListener("abort", forget);
      this.close();
    }
  }

  /** Closes the pidfds without waiting. */
  close(): void {
    for (const fd of this.#fds.splice(0)) closeFd(fd);
  }
}
