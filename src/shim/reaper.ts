/**
 * Waiting for one child process to exit by polling `waitid` on its pid.
 *
 * The shim is a child subreaper, so the container's init process (forked by
 * `runc create`, which then exits) becomes its child and can be reaped here.
 *
 * @module
 */
import { reapChild } from "../sys/proc.ts";
import { shimNow } from "./timestamp.ts";

/** The exit of a supervised process, as containerd reports it. */
export interface ExitStatus {
  /** Exit code, or 128 + signal number when killed by a signal. */
  status: number;
  /** When the exit was observed. */
  exitedAt: Date;
}

/**
 * Default polling interval in milliseconds. Exits are noticed at once on
 * `SIGCHLD`; polling only covers a signal that never came.
 */
export const REAP_INTERVAL_MS = 200;

/** Checks of the pids being waited for, run on every `SIGCHLD`. */
const onChild = new Set<() => void>();
const checkAll = () => {
  for (const check of [...onChild]) check();
};

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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (exit: ExitStatus) => {
      clearTimeout(timer);
      onChild.delete(check);
      if (onChild.size === 0) Deno.removeSignalListener("SIGCHLD", checkAll);
      resolve(exit);
    };
    const check = () => {
      let exit;
      try {
        exit = reapChild(pid);
      } catch {
        finish({ status: 255, exitedAt: shimNow() });
        return;
      }
      if (exit === null) return;
      const status = exit.signal !== undefined
        ? 128 + exit.signal
        : exit.code ?? 255;
      finish({ status, exitedAt: shimNow() });
    };
    const poll = () => {
      check();
      if (onChild.has(check)) timer = setTimeout(poll, intervalMs);
    };
    if (onChild.size === 0) Deno.addSignalListener("SIGCHLD", checkAll);
    onChild.add(check);
    poll();
  });
}
