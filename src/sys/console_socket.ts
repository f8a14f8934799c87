/**
 * runc's `--console-socket`: a UNIX socket on which runc sends the master
 * end of the container's pseudo-terminal as an `SCM_RIGHTS` message.
 *
 * Deno cannot receive file descriptors, so the socket is made with libc.
 * Both the listening and the accepted socket are non-blocking and waited
 * for on the process's poll loop (`poll.ts`): the terminal is taken as soon
 * as runc sends it, and a runc that fails before connecting never leaves a
 * thread waiting.
 *
 * @module
 */
import { cString, Errno, errno, libcSymbols, SyscallError } from "./libc.ts";
import { poller, POLLIN } from "./poll.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const sock = libcSymbols(SYMBOLS);

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
/** `sun_path` is 108 bytes. */
const MAX_PATH = 107;

/** Options for {@linkcode ConsoleSocket.receive}. */
export interface ReceiveOptions {
  /** Gives up (rejects with `AbortError`) when aborted. */
  signal?: AbortSignal;
}

/** A listening console socket at a path, for one pseudo-terminal. */
export class ConsoleSocket {
  /** The socket's path, for runc's `--console-socket`. */
  readonly path: string;
  #fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Listens at `path` (which must not exist). */
  static listen(path: string): ConsoleSocket {
    const name = cString(path);
    if (name.length - 1 > MAX_PATH) {
      throw new RangeError(`console socket path too long: ${path}`);
    }
    const fd = sock().socket(
      AF_UNIX,
      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
      0,
    );
    if (fd < 0) throw new SyscallError("socket", errno());
    const address = new Uint8Array(110);
    new DataView(address.buffer).setUint16(0, AF_UNIX, true);
    address.set(name, 2);
    if (sock().bind(fd, address, address.length) !== 0) {
      const e = errno();
      sock().close(fd);
      throw new SyscallError(`bind ${path}`, e);
    }
    if (sock().listen(fd, 1) !== 0) {
      const e = errno();
      sock().close(fd);
      sock().unlink(name);
      throw new SyscallError(`listen ${path}`, e);
    }
    return new ConsoleSocket(path, fd);
  }

  /**
   * Waits for runc to connect and send the terminal master; returns that
   * descriptor (close-on-exec, in whatever blocking mode runc left it).
   */
  async receive(options: ReceiveOptions = {}): Promise<number> {
    const conn = await whenReady(this.#fd, options.signal, () => {
      const fd = sock().accept4(
        this.#fd,
        null,
        null,
        SOCK_CLOEXEC | SOCK_NONBLOCK,
      );
      return fd >= 0 ? fd : undefined;
    }, "accept");
    try {
      return await whenReady(
        conn,
        options.signal,
        () => receiveFd(conn),
        "recvmsg",
      );
    } finally {
      poller.forget(conn);
      sock().close(conn);
    }
  }

  /** Stops listening and removes the socket file. */
  close(): void {
    if (this.#fd < 0) return;
    poller.forget(this.#fd);
    sock().close(this.#fd);
    this.#fd = -1;
    sock().unlink(cString(this.path));
  }
}

/**
 * Calls `attempt` until it yields a value; `EAGAIN` means none yet: it is
 * called again once `fd` is readable.
 */
async function whenReady<T>(
  fd: number,
  signal: AbortSignal | undefined,
  attempt: () => T | undefined,
  call: string,
): Promise<T> {
  for (;;) {
    signal?.throwIfAborted();
    const value = attempt();
    if (value !== undefined) return value;
    const e = errno();
    if (e !== Errno.EAGAIN && e !== Errno.EINTR) {
      throw new SyscallError(call, e);
    }
    // An abort ends the wait (the loop then throws its reason).
    const abandon = () => poller.forget(fd);
    signal?.addEventListener("abort", abandon, { once: true });
    try {
      await poller.wait(fd, POLLIN);
    } finally {
      signal?.removeEventListener("abort", abandon);
    }
  }
}

/** One `recvmsg` for a single `SCM_RIGHTS` descriptor; undefined on EAGAIN. */
function receiveFd(conn: number): number | undefined {
  // runc sends the terminal's name as data; the fd rides in the control part.
  const data = new Uint8Array(4096);
  const control = new Uint8Array(64);
  const iov = new BigUint64Array([pointerOf(data), BigInt(data.length)]);
  const msg = new BigUint64Array(7);
  msg[2] = pointerOf(iov);
  msg[3] = 1n;
  msg[4] = pointerOf(control);
  msg[5] = BigInt(control.length);
  const n = Number(
    sock().recvmsg(conn, new Uint8Array(msg.buffer), MSG_CMSG_CLOEXEC),
  );
  if (n < 0) return undefined;
  const header = new DataView(control.buffer);
  const controlLength = Number(msg[5]);
  if (
    n === 0 || controlLength < 20 || header.getInt32(8, true) !== SOL_SOCKET ||
    header.getInt32(12, true) !== SCM_RIGHTS
  ) {
    throw new SyscallError("recvmsg: no terminal descriptor", Errno.EINVAL);
  }
  return header.getInt32(16, true);
}

function pointerOf(buffer: ArrayBufferView): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}
