/**
 * Relabels system call failures with the mount they belong to.
 *
 * @module
 */
import { SyscallError } from "../sys/mod.ts";

/**
 * `err` as a {@linkcode SyscallError} labelled `label` (same errno), with
 * `details` appended in parentheses; other errors are returned unchanged.
 */
export function relabel(
  err: unknown,
  label: string,
  details: readonly string[] = [],
): unknown {
  if (!(err instanceof SyscallError)) return err;
  const out = new SyscallError(label, err.errno);
  const extra = details.filter((d) => d !== "");
  if (extra.length > 0) out.message += ` (${extra.join("; ")})`;
  out.cause = err;
  return out;
}
