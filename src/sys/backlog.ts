/**
 * The accept queue of a listening UNIX socket Deno opened: `Deno.listen`
 * queues 1024 connections and takes no backlog, but `listen(2)` called
 * again on a listening socket sets a new one.
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  listen: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const sys = libcSymbols(SYMBOLS);

/** `__SO_ACCEPTCON` in `/proc/net/unix`'s flags: a listening socket. */
const ACCEPTING = 0x10000;

/**
 * Sets the backlog of this process's socket listening on `path` (capped
 * by `net.core.somaxconn`).
 *
 * @throws {Error} when this process holds no socket listening there.
 * @throws {SyscallError} when `listen` fails.
 */
export function setListenBacklog(path: string, backlog: number): void {
  const fd = listeningFd(path);
  if (sys().listen(fd, backlog) !== 0) {
    throw new SyscallError(`listen ${path}`, errno());
  }
}

/**
 * A line of `/proc/net/unix` (`Num RefCount Protocol Flags Type St Inode
 * Path`): its flags, inode and path. The path is the rest of the line as
 * bound, spaces and all.
 */
const UNIX_SOCKET_LINE =
  /^\s*\S+:\s+\S+\s+\S+\s+(\S+)\s+\S+\s+\S+\s+(\d+) (.*)$/;

/** The descriptor of this process's socket listening on `path`. */
function listeningFd(path: string): number {
  const inodes = new Set<string>();
  for (const line of Deno.readTextFileSync("/proc/net/unix").split("\n")) {
    const entry = UNIX_SOCKET_LINE.exec(line);
    if (entry?.[3] !== path) continue;
    if (parseInt(entry[1], 16) & ACCEPTING) inodes.add(entry[2]);
  }
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // Closed since the listing (the listing's own, too).
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return Number(entry.name);
  }
  throw new Error(`no socket of this process listens on ${path}`);
}
