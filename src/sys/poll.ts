/**
 * Waiting for many file descriptors at once on ONE worker thread.
 *
 * Deno runs blocking calls (file opens and reads, FFI calls marked
 * `nonblocking`) on a pool of about 32 threads: a shim that waited on each
 * of its containers' FIFOs and terminals with a blocking call would run out
 * of them, and then every file operation of the process would hang. So all
 * waits go to one `poll(2)` call over every descriptor waited for, plus a
 * pipe that wakes it when the set changes; the reads and writes themselves
 * are non-blocking calls on the main thread.
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = libcSymbols(SYMBOLS);

/** Readable (or a peer's end: hang-up and errors always count). */
export const POLLIN = 0x1;
/** Writable. */
export const POLLOUT = 0x4;

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
/** Size of `struct pollfd` (int fd; short events; short revents). */
const POLLFD_SIZE = 8;

interface Waiter {
  fd: number;
  events: number;
  resolve: (revents: number) => void;
}

/** One poll loop for the whole process. */
class Poller {
  #waiters: Waiter[] = [];
  #wake: [number, number] | undefined;
  #running = false;

  /**
   * Resolves with the `revents` once `fd` is ready for `events` (or hung
   * up, or in error), or with 0 when {@linkcode Poller.forget} drops it.
   */
  wait(fd: number, events: number): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.#waiters.push({ fd, events, resolve });
    if (this.#running) this.#poke();
    else {
      this.#loop().catch(() => {
        // No poll possible: every wait ends as if its descriptor were gone.
        for (const w of this.#waiters.splice(0)) w.resolve(0);
      });
    }
    return promise;
  }

  /** Stops waiting on `fd` (about to be closed): its waits resolve 0. */
  forget(fd: number): void {
    const dropped = this.#waiters.filter((w) => w.fd === fd);
    if (dropped.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.fd !== fd);
    for (const w of dropped) w.resolve(0);
    this.#poke();
  }

  #poke(): void {
    if (this.#wake) libc().write(this.#wake[1], new Uint8Array(1), 1n);
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      this.#wake ??= wakePipe();
      const [wakeFd] = this.#wake;
      while (this.#waiters.length > 0) {
        const polled = [...this.#waiters];
        const fds = new DataView(
          new ArrayBuffer(POLLFD_SIZE * (polled.length + 1)),
        );
        fds.setInt32(0, wakeFd, true);
        fds.setInt16(4, POLLIN, true);
        polled.forEach((w, i) => {
          fds.setInt32(POLLFD_SIZE * (i + 1), w.fd, true);
          fds.setInt16(POLLFD_SIZE * (i + 1) + 4, w.events, true);
        });
        const bytes = new Uint8Array(fds.buffer);
        await libc().poll(bytes, BigInt(polled.length + 1), -1);
        // Drain the wake-ups (non-blocking: stops at EAGAIN).
        const sink = new Uint8Array(64);
        while (libc().read(wakeFd, sink, 64n) > 0) { /* more */ }
        polled.forEach((w, i) => {
          const revents = fds.getInt16(POLLFD_SIZE * (i + 1) + 6, true);
          if (revents === 0) return;
          const at = this.#waiters.indexOf(w);
          if (at < 0) return; // forgotten meanwhile
          this.#waiters.splice(at, 1);
          w.resolve(revents);
        });
      }
    } finally {
      this.#running = false;
    }
  }
}

function wakePipe(): [number, number] {
  const fds = new Int32Array(2);
  if (libc().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC | O_NONBLOCK) !== 0) {
    throw new SyscallError("pipe2", errno());
  }
  return [fds[0], fds[1]];
}

/** The process's poll loop. */
export const poller: Poller = new Poller();
