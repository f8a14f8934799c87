/**
 * `AF_NETLINK` datagram sockets through FFI: open, send, receive, close.
 *
 * Calls are synchronous on the calling thread (errno stays readable). The
 * kernel answers rtnetlink requests while handling the send, so a receive
 * right after finds the answer queued; a receive timeout still bounds every
 * wait, so a lost answer is an error, never a hung daemon.
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const sys = libcSymbols(SYMBOLS);

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUF = 8;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;
const EINTR = 4;

/** Options for {@linkcode openNetlinkSocket}. */
export interface NetlinkSocketOptions {
  /** Longest wait for an answer, in milliseconds (default 10 000). */
  receiveTimeoutMs?: number;
}

function setOption(fd: number, level: number, name: number, value: Uint8Array) {
  if (sys().setsockopt(fd, level, name, value, value.byteLength) !== 0) {
    throw new SyscallError("setsockopt", errno());
  }
}

/**
 * Opens and binds a netlink socket of `protocol` (e.g. `NETLINK_ROUTE` = 0)
 * in the calling thread's network namespace, with extended acks (the
 * kernel's error text) turned on. Returns the descriptor.
 */
export function openNetlinkSocket(
  protocol: number,
  options: NetlinkSocketOptions = {},
): number {
  const fd = sys().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw new SyscallError("socket(AF_NETLINK)", errno());
  try {
    const timeout = options.receiveTimeoutMs ?? 10_000;
    const timeval = new BigInt64Array([
      BigInt(Math.floor(timeout / 1000)),
      BigInt((timeout % 1000) * 1000),
    ]);
    setOption(fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(timeval.buffer));
    setOption(
      fd,
      SOL_SOCKET,
      SO_RCVBUF,
      new Uint8Array(new Int32Array([1 << 20]).buffer),
    );
    // Not every kernel knows extended acks: without them errors lack the text.
    const on = new Uint8Array(new Int32Array([1]).buffer);
    sys().setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, on, on.byteLength);
    // sockaddr_nl { family, pad, pid = 0 (kernel picks), groups = 0 }
    const address = new Uint8Array(12);
    new DataView(address.buffer).setUint16(0, AF_NETLINK, true);
    if (sys().bind(fd, address, address.byteLength) !== 0) {
      throw new SyscallError("bind(AF_NETLINK)", errno());
    }
    return fd;
  } catch (error) {
    sys().close(fd);
    throw error;
  }
}

/** Sends one datagram (`message`, whole) on the netlink socket `fd`. */
export function netlinkSend(fd: number, message: Uint8Array): void {
  for (;;) {
    const sent = Number(sys().send(fd, message, BigInt(message.byteLength), 0));
    if (sent === message.byteLength) return;
    const code = errno();
    if (sent < 0 && code === EINTR) continue;
    throw new SyscallError("send(AF_NETLINK)", sent < 0 ? code : 0);
  }
}

/**
 * Receives one datagram from `fd` into `buffer`; returns the bytes received
 * (a view on `buffer`). Fails with EAGAIN once the receive timeout passes.
 */
export function netlinkReceive(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  for (;;) {
    const received = Number(
      sys().recv(fd, buffer, BigInt(buffer.byteLength), 0),
    );
    if (received >= 0) return buffer.subarray(0, received);
    const code = errno();
    if (code !== EINTR) throw new SyscallError("recv(AF_NETLINK)", code);
  }
}

/** Closes the netlink socket `fd`. */
export function closeNetlinkSocket(fd: number): void {
  sys().close(fd);
}
