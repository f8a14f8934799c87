/**
 * Moving bytes between descriptors in the kernel: `splice(2)` from or to a
 * pipe, and the pipe sizes and checks that make it cheap. All calls are
 * synchronous on non-blocking descriptors, so they never wait and their
 * `errno` is reliable; waiting is the poll loop's (`poll.ts`).
 *
 * @module
 */
import { Errno, errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  splice: {
    parameters: ["i32", "pointer", "i32", "pointer", "usize", "u32"],
    result: "isize",
  },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const sys = libcSymbols(SYMBOLS);

const F_SETPIPE_SZ = 1031;
const F_DUPFD_CLOEXEC = 1030;
const POLLIN = 0x001;
const POLLOUT = 0x004;
const POLLERR = 0x008;
const POLLHUP = 0x010;
const FIONREAD = 0x541bn;
const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;

/** What one transfer did: bytes moved, 0 at the source's end, or "again". */
export type Moved = number | "again";

/**
 * Moves up to `length` bytes from `from` to `to`; one side must be a pipe.
 * Throws on errors other than `EAGAIN` (`EINVAL` when neither side can
 * splice, e.g. a terminal; `EPIPE` when `to` has no reader).
 */
export function splice(from: number, to: number, length: number): Moved {
  const n = Number(
    sys().splice(
      from,
      null,
      to,
      null,
      BigInt(length),
      SPLICE_F_MOVE | SPLICE_F_NONBLOCK,
    ),
  );
  if (n >= 0) return n;
  const code = errno();
  if (code === Errno.EAGAIN) return "again";
  throw new SyscallError("splice", code);
}

/**
 * Whether `fd` has data to read or its writers are gone, right now. A FIFO
 * that no writer has opened yet is neither (though a read returns 0).
 */
export function readable(fd: number): boolean {
  const pollfd = new DataView(new ArrayBuffer(8));
  pollfd.setInt32(0, fd, true);
  pollfd.setInt16(4, POLLIN, true);
  if (sys().poll(new Uint8Array(pollfd.buffer), 1n, 0) < 0) return true;
  return (pollfd.getInt16(6, true) & (POLLIN | POLLHUP)) !== 0;
}

/** A close-on-exec duplicate of `fd` (to copy in both directions). */
export function duplicate(fd: number): number {
  const copy = sys().fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw new SyscallError("fcntl(F_DUPFD_CLOEXEC)", errno());
  return copy;
}

/**
 * Grows the pipe or FIFO `fd` to `size` bytes, for fewer, larger copies; a
 * refusal (over the system's limit) leaves it as it was.
 */
export function growPipe(fd: number, size: number): void {
  sys().fcntl(fd, F_SETPIPE_SZ, size);
}

/**
 * Whether the pipe or FIFO that `writer` writes to has a reader now (a
 * pipe without readers polls as an error for its writers).
 */
export function hasReader(writer: number): boolean {
  const pollfd = new DataView(new ArrayBuffer(8));
  pollfd.setInt32(0, writer, true);
  pollfd.setInt16(4, POLLOUT, true);
  if (sys().poll(new Uint8Array(pollfd.buffer), 1n, 0) < 0) return false;
  return (pollfd.getInt16(6, true) & POLLERR) === 0;
}

/** Bytes waiting in the pipe or FIFO `fd` (either end); 0 on error. */
export function unreadBytes(fd: number): number {
  const count = new Int32Array(1);
  if (sys().ioctl(fd, FIONREAD, new Uint8Array(count.buffer)) !== 0) return 0;
  return count[0];
}
