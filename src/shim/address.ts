/**
 * Where a shim listens: `BUNDLE/shim.sock`, or, when that path is too long
 * for a unix socket, `/run/berth/s/<sha256 of address/namespace/id>` as
 * containerd hashes its shim sockets.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** Longest unix socket path (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** Directory for hashed shim sockets. */
export const SOCKET_ROOT = "/run/berth/s";

/** The shim's socket path for container `id` of `namespace`. */
export function shimSocketPath(
  bundle: string,
  daemonAddress: string,
  namespace: string,
  id: string,
  socketRoot: string = SOCKET_ROOT,
): string {
  const local = join(bundle, "shim.sock");
  if (new TextEncoder().encode(local).length <= MAX_SOCKET_PATH) return local;
  const digest = createHash("sha256")
    .update(join(daemonAddress, namespace, id))
    .digest("hex");
  return join(socketRoot, digest);
}
