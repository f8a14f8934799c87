/**
 * I/O on raw file descriptors that Deno's own APIs cannot wrap: the ends of
 * a `pipe2` pipe and a pseudo-terminal master received from runc.
 *
 * The descriptors are non-blocking ({@linkcode setNonBlocking}): reads and
 * writes are quick calls on the main thread, and waiting for data or room
 * goes to the process's one poll loop (`poll.ts`), so no worker thread is
 * held per descriptor. A failed read counts as end of stream and a failed
 * write as a closed peer.
 *
 * @module
 */
import { cString, errno, libcSymbols, SyscallError } from "./libc.ts";
import { poller, POLLIN, POLLOUT } from "./poll.ts";

const SYMBOLS = {
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const fdio = libcSymbols(SYMBOLS);

const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const O_RDWR = 0o2;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const TIOCSWINSZ = 0x5414n;
const EAGAIN = 11;
const EINTR = 4;

/** Creates a close-on-exec pipe; returns `[readEnd, writeEnd]`. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  if (fdio().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) {
    throw new SyscallError("pipe2", errno());
  }
  return [fds[0], fds[1]];
}

/**
 * Marks every open descriptor from 3 up close-on-exec, so no child started
 * later inherits one. Deno opens most descriptors close-on-exec, but not all
 * (a `node:net` UNIX listening socket is not): without this, every shim
 * would hold the daemon's API socket open.
 */
export function closeOnExecAll(): void {
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(entry.name);
    if (fd < 3) continue;
    const flags = fdio().fcntl(fd, F_GETFD, 0);
    // A descriptor closed since the listing (the listing's own, too).
    if (flags < 0 || flags & FD_CLOEXEC) continue;
    fdio().fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

/** Sets `O_NONBLOCK` on `fd`, as {@linkcode readFd} and `writeFd` need. */
export function setNonBlocking(fd: number): void {
  const flags = fdio().fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fdio().fcntl(fd, F_SETFL, flags | O_NONBLOCK) !== 0) {
    throw new SyscallError("fcntl", errno());
  }
}

/** Sets the window size of the terminal `fd` (`TIOCSWINSZ`). */
export function setWindowSize(fd: number, rows: number, cols: number): void {
  const size = new Uint16Array([rows, cols, 0, 0]);
  if (fdio().ioctl(fd, TIOCSWINSZ, new Uint8Array(size.buffer)) !== 0) {
    throw new SyscallError("ioctl(TIOCSWINSZ)", errno());
  }
}

/**
 * Opens `path` with `flags` (close-on-exec added); returns the descriptor.
 *
 * @throws {SyscallError} when the call fails (e.g. `ENXIO` opening a FIFO
 *   for writing, non-blocking, that has no reader).
 */
export function openFd(path: string, flags: number): number {
  const fd = fdio().open(cString(path), flags | O_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError(`open ${path}`, errno());
  return fd;
}

/**
 * Points descriptor `fd` at /dev/null (a stdout whose reader is gone: later
 * writes vanish instead of failing).
 *
 * @throws {SyscallError} when it cannot.
 */
export function nullifyFd(fd: number): void {
  const devNull = openFd("/dev/null", O_RDWR);
  try {
    if (fdio().dup2(devNull, fd) < 0) throw new SyscallError("dup2", errno());
  } finally {
    closeFd(devNull);
  }
}

/** Closes `fd`, ignoring errors (it may be closed already). */
export function closeFd(fd: number): void {
  poller.forget(fd);
  fdio().close(fd);
}

/**
 * Reads up to `buffer.length` bytes from non-blocking `fd`, waiting for
 * them; 0 at end of stream, on error, or once `fd` is closed.
 */
export async function readFd(fd: number, buffer: Uint8Array): Promise<number> {
  for (;;) {
    const n = Number(
      fdio().read(fd, buffer as Uint8Array<ArrayBuffer>, BigInt(buffer.length)),
    );
    if (n >= 0) return n;
    const err = errno();
    if (err === EINTR) continue;
    if (err !== EAGAIN) return 0;
    if (await poller.wait(fd, POLLIN) === 0) return 0;
  }
}

/** Writes all of `data` to non-blocking `fd`; false when the peer is gone. */
export async function writeFd(fd: number, data: Uint8Array): Promise<boolean> {
  let offset = 0;
  while (offset < data.length) {
    const rest = data.subarray(offset) as Uint8Array<ArrayBuffer>;
    const n = Number(fdio().write(fd, rest, BigInt(rest.length)));
    if (n >= 0) {
      offset += n;
      continue;
    }
    const err = errno();
    if (err === EINTR) continue;
    if (err !== EAGAIN) return false;
    if (await poller.wait(fd, POLLOUT) === 0) return false;
  }
  return true;
}
