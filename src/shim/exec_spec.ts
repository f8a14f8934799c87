/**
 * An exec's process spec as runc gets it: the request's `terminal` flag
 * decides, whatever the spec says, as in containerd's shim (runc refuses a
 * console socket otherwise).
 *
 * @module
 */
import { BerthError, Code } from "../types/errors.ts";

/**
 * The process spec JSON `value` with its `terminal` set to `terminal`: the
 * bytes as given when they say so already (ctr and the Go client send the
 * spec's and the request's flag alike), else the spec encoded anew.
 *
 * @throws {BerthError} InvalidArgument when `value` is not a JSON object.
 */
export function execProcessSpec(
  execId: string,
  value: Uint8Array,
  terminal: boolean,
): Uint8Array {
  let spec: unknown;
  try {
    spec = JSON.parse(new TextDecoder().decode(value));
  } catch (err) {
    throw new BerthError(
      Code.InvalidArgument,
      `exec ${execId}: process spec: ${(err as Error).message}`,
    );
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new BerthError(
      Code.InvalidArgument,
      `exec ${execId}: process spec: not a JSON object`,
    );
  }
  const process = spec as { terminal?: unknown };
  if ((process.terminal ?? false) === terminal) return value;
  process.terminal = terminal;
  return new TextEncoder().encode(JSON.stringify(process));
}
