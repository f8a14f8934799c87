/**
 * Where a shim listens: `BUNDLE/shim.sock`, or, when that path is too long
 * for a unix socket, `/run/berth/s/<sha256 of address/namespace/id>` as
 * containerd hashes its shim sockets.
 *
 * @module
 */
import { join } from "../types/path.ts";

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
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(join(daemonAddress, namespace, id)),
  );
  const hex = Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return join(socketRoot, hex);
}
