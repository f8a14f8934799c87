/**
 * Waiting for one child process to exit by polling `waitid` on its pid.
 *
 * The shim is a child subreaper, so the container's init process (forked by
 * `runc create`, which then exits) becomes its child and can be reaped here.
 * So do the orphans of its containers (a process left when its pid
 * namespace's init died, a daemon a host-pid container forked): while the
 * shim serves, {@linkcode reapOrphans} reaps every exited child that is not
 * one of its own commands, keeping the status for a `waitForExit` that may
 * come later (an init that exits before `runc create` has returned).
 *
 * @module
 */
import { peekExitedChild, reapChild } from "../sys/proc.ts";
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
  if (reapingOrphans) reapExited();
};

/** Pids of the shim's own commands: `Deno.Command` reaps those itself. */
const commands = new Set<number>();
/** Exits reaped before anyone waited for them, oldest first. */
const unclaimed = new Map<number, ExitStatus>();
/** How many unclaimed exits are kept: true orphans are never claimed. */
const UNCLAIMED_LIMIT = 1024;
let reapingOrphans = false;
let retry: ReturnType<typeof setTimeout> | undefined;
let listening = false;

/** Listens for `SIGCHLD` while anything waits or orphans are reaped. */
function syncListener(): void {
  const wanted = reapingOrphans || onChild.size > 0;
  if (wanted && !listening) Deno.addSignalListener("SIGCHLD", checkAll);
  if (!wanted && listening) Deno.removeSignalListener("SIGCHLD", checkAll);
  listening = wanted;
}

/**
 * Spawns `command` as one of the shim's own commands, which the orphan
 * reaper leaves to `Deno.Command`.
 */
export function spawnCommand(command: Deno.Command): Deno.ChildProcess {
  const child = command.spawn();
  commands.add(child.pid);
  child.status.finally(() => commands.delete(child.pid));
  return child;
}

function exitOf(exit: { code?: number; signal?: number }): ExitStatus {
  const status = exit.signal !== undefined
    ? 128 + exit.signal
    : exit.code ?? 255;
  return { status, exitedAt: shimNow() };
}

/** Reaps every exited child but the shim's own commands. */
function reapExited(): void {
  for (;;) {
    const pid = peekExitedChild();
    if (pid === 0) return;
    if (commands.has(pid)) {
      // Deno.Command reaps it on its own SIGCHLD; look behind it then.
      clearTimeout(retry);
      retry = setTimeout(reapExited, 50);
      return;
    }
    const exit = reapChild(pid);
    if (exit === null) return;
    unclaimed.delete(pid);
    unclaimed.set(pid, exitOf(exit));
    if (unclaimed.size > UNCLAIMED_LIMIT) {
      unclaimed.delete(unclaimed.keys().next().value!);
    }
    for (const check of [...onChild]) check();
  }
}

/**
 * Reaps the shim's orphaned children until the returned function is
 * called: zombies never pile up in a long-lived shim.
 */
export function reapOrphans(): () => void {
  reapingOrphans = true;
  syncListener();
  reapExited();
  return () => {
    reapingOrphans = false;
    clearTimeout(retry);
    syncListener();
  };
}

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
      syncListener();
      resolve(exit);
    };
    const check = () => {
      const reaped = unclaimed.get(pid);
      if (reaped) {
        unclaimed.delete(pid);
        finish(reaped);
        return;
      }
      let exit;
      try {
        exit = reapChild(pid);
      } catch {
        finish({ status: 255, exitedAt: shimNow() });
        return;
      }
      if (exit !== null) finish(exitOf(exit));
    };
    const poll = () => {
      check();
      if (onChild.has(check)) timer = setTimeout(poll, intervalMs);
    };
    onChild.add(check);
    syncListener();
    poll();
  });
}
