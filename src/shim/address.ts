/**
 * Where a shim listens: `BUNDLE/shim.sock`, or, when that path is too long
 * for a unix socket, `/run/berth/s/<sha256 of address/namespace/id>` as
 * containerd hashes its shim sockets. A group's shim always listens on a
 * hashed path, which every container of the group finds from its name.
 *
 * @module
 */
import { dirname, join } from "../types/path.ts";

/** Longest unix socket path (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Directory for hashed shim sockets. */
export const SOCKET_ROOT = "/run/berth/s";

/** The shim's socket path for container `id` of `namespace`. */
export async function shimSocketPath(
  bundle: string,
  daemonAddress: string,
  namespace: string,
  id: string,
  socketRoot: string = SOCKET_ROOT,
): Promise<string> {
  const local = join(bundle, "shim.sock");
  if (new TextEncoder().encode(local).length <= MAX_SOCKET_PATH) return local;
  return join(socketRoot, await sha256Hex(join(daemonAddress, namespace, id)));
}

/** The socket of the shim serving group `group` of `namespace`. */
export async function groupSocketPath(
  daemonAddress: string,
  namespace: string,
  group: string,
  socketRoot: string = SOCKET_ROOT,
): Promise<string> {
  const name = await sha256Hex(`${daemonAddress}\0${namespace}\0${group}`);
  return join(socketRoot, name);
}

/** The SHA-256 of `text`, in hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Makes the directory a shim socket goes in: 0700, as containerd keeps its
 * shim sockets; one made wider before is narrowed. A bundle (the socket's
 * home when its path is short) keeps its own mode: the 0600 socket guards
 * itself there.
 */
export async function makeSocketDir(
  socket: string,
  bundle: string,
): Promise<void> {
  const dir = dirname(socket);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (dir !== bundle) await Deno.chmod(dir, 0o700);
}
