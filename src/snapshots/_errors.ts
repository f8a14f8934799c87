/**
 * Error wrapping shared by the snapshotters.
 *
 * @module
 */

/**
 * Prefixes the message of an error, keeping its class and code, as
 * containerd wraps its storage errors (`failed to remove: …`).
 */
export function wrapError(err: unknown, prefix: string): unknown {
  if (err instanceof Error) err.message = `${prefix}: ${err.message}`;
  return err;
}
