/**
 * An rtnetlink client: the interfaces, addresses and routes of any network
 * namespace, listed, created, changed and deleted over an `AF_NETLINK`
 * socket through FFI (no `ip` command).
 *
 * Entering a namespace never leaks into the daemon's threads: a socket is
 * created inside the namespace by a synchronous `setns` there and back on
 * the calling thread (nothing else runs in between), and a netlink socket
 * keeps acting in the namespace it was created in. See `socket.ts`.
 *
 * @module
 */
export * from "./types.ts";
export * from "./interfaces.ts";
export {
  formatIP,
  formatPrefix,
  parseIP,
  parseMac,
  parsePrefix,
} from "./ip.ts";
export type { Prefix } from "./ip.ts";
