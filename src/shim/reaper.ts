/**
 * Waiting for one child process to exit by polling `waitid` on its pid.
 *
 * The shim is a child subreaper, so the container's init process (forked by
 * `runc create`, which then exits) becomes its child and can be reaped here.
 *
 * @module
 */
import { reapChild } from "../sys/proc.ts";

/** The exit of a supervised process, as containerd reports it. */
export interface ExitStatus {
  /** Exit code, or 128 + signal number when killed by a signal. */
  status: number;
  /** When the exit was observed. */
  exitedAt: Date;
}

/** Default polling interval in milliseconds. */
export const REAP_INTERVAL_MS = 50;

/**
 * Resolves when child `pid` exits, reaping it. A pid that is not (or no
 * longer) our child resolves with status 255, as containerd reports an
 * unknown exit.
 */
export function waitForExit(
  pid: number,
  intervalMs: number = REAP_INTERVAL_MS,
): Promise<ExitStatus> {
  return new Promise((resolve) => {
    const poll = () => {
      let exit;
      try {
        exit = reapChild(pid);
      } catch {
        resolve({ status: 255, exitedAt: new Date() });
        return;
      }
      if (exit === null) {
        setTimeout(poll, intervalMs);
        return;
      }
      const status = exit.signal !== undefined
        ? 128 + exit.signal
        : exit.code ?? 255;
      resolve({ status, exitedAt: new Date() });
    };
    poll();
  });
}
