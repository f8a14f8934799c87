/**
 * Waiting for child processes to exit, told by `SIGCHLD` alone: no timer
 * polls for an exit.
 *
 * The shim is a child subreaper, so the container's init process (forked by
 * `runc create`, which then exits) becomes its child and can be reaped here.
 * So do the orphans of its containers (a process left when its pid
 * namespace's init died, a daemon a host-pid container forked): while the
 * shim serves, {@linkcode reapOrphans} reaps every exited child that is not
 * one of its own commands, keeping the status for a launch in progress that
 * may ask for it later (see {@linkcode beginLaunch}).
 *
 * @module
 */
import { peekExitedChild, reapChild } from "../sys/proc.ts";
import { shimNow } from "./timestamp.ts";
import { KeptExits } from "./_kept_exits.ts";

/** The exit of a supervised process, as containerd reports it. */
export interface ExitStatus {
  /** Exit code, or 128 + signal number when killed by a signal. */
  status: number;
  /** When the exit was observed. */
  exitedAt: Date;
}

/** Who waits for which pid's exit. */
const waiting = new Map<number, ((exit: ExitStatus) => void)[]>();
/** Pids of the shim's own commands: `Deno.Command` reaps those itself. */
const commands = new Set<number>();
/** Exits reaped before anyone waited for them, for launches in progress. */
const kept = new KeptExits<ExitStatus>();
let reapingOrphans = false;
let listening = false;

/**
 * On `SIGCHLD`: while orphans are reaped, every exited child is reaped (a
 * look and a reap per exit, however many wait); else each waited-for pid
 * is looked at (nobody else's child may be reaped then).
 */
function onChildExit(): void {
  if (reapingOrphans) reapExited();
  else for (const pid of [...waiting.keys()]) collect(pid);
}

/** Listens for `SIGCHLD` while anything waits or orphans are reaped. */
function syncListener(): void {
  const wanted = reapingOrphans || waiting.size > 0;
  if (wanted && !listening) Deno.addSignalListener("SIGCHLD", onChildExit);
  if (!wanted && listening) {
    Deno.removeSignalListener("SIGCHLD", onChildExit);
  }
  listening = wanted;
}

/**
 * Spawns `command` as one of the shim's own commands, which the orphan
 * reaper leaves to `Deno.Command`.
 */
export function spawnCommand(command: Deno.Command): Deno.ChildProcess {
  const child = command.spawn();
  commands.add(child.pid);
  const collected = () => {
    commands.delete(child.pid);
    // Exits that waited behind this one's (see reapExited) are looked at.
    if (reapingOrphans) reapExited();
  };
  child.status.then(collected, collected);
  return child;
}

function exitOf(exit: { code?: number; signal?: number }): ExitStatus {
  const status = exit.signal !== undefined
    ? 128 + exit.signal
    : exit.code ?? 255;
  return { status, exitedAt: shimNow() };
}

/** Tells the waiters of `pid` its exit, or keeps it for a later one. */
function deliver(pid: number, exit: ExitStatus): void {
  const resolvers = waiting.get(pid);
  if (!resolvers) {
    kept.keep(pid, exit);
    return;
  }
  waiting.delete(pid);
  syncListener();
  for (const resolve of resolvers) resolve(exit);
}

/**
 * Reaps waited-for `pid` if it has exited; one that is not (or no longer)
 * our child ends with status 255, as containerd reports an unknown exit.
 */
function collect(pid: number): void {
  let exit: ExitStatus;
  try {
    const ended = reapChild(pid);
    if (ended === null) return;
    exit = exitOf(ended);
  } catch {
    exit = { status: 255, exitedAt: shimNow() };
  }
  deliver(pid, exit);
}

/**
 * Reaps every exited child but the shim's own commands. An exited command
 * not yet collected by `Deno.Command` hides the children behind it from
 * the look (`waitid` shows the first waitable child): its collection looks
 * again (see spawnCommand).
 */
function reapExited(): void {
  for (;;) {
    const pid = peekExitedChild();
    if (pid === 0 || commands.has(pid)) return;
    const exit = reapChild(pid);
    if (exit === null) return;
    deliver(pid, exitOf(exit));
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
    syncListener();
  };
}

/**
 * Resolves when child `pid` exits, reaping it. A pid that is not (or no
 * longer) our child resolves with status 255, as containerd reports an
 * unknown exit. An exit reaped before the call is never told: the pid may
 * name another process by now (see {@linkcode beginLaunch}).
 */
export function waitForExit(pid: number): Promise<ExitStatus> {
  const { promise, resolve } = Promise.withResolvers<ExitStatus>();
  const resolvers = waiting.get(pid);
  if (resolvers) resolvers.push(resolve);
  else waiting.set(pid, [resolve]);
  syncListener();
  // It may have exited before anyone waited.
  collect(pid);
  return promise;
}

/** A launch in progress, whose process's pid is learned after it ran. */
export interface Launch extends Disposable {
  /**
   * Resolves when `pid`, this launch's process, exits: at once with its
   * exit when that was reaped since the launch began, else as
   * {@linkcode waitForExit} does.
   */
  waitForExit(pid: number): Promise<ExitStatus>;
}

/**
 * Begins a launch (`runc create` or `runc exec`), to be disposed of once
 * its process is waited for: meanwhile, exits reaped with nobody waiting
 * are kept for it. Only an exit reaped after the launch began can be its
 * process's; one reaped before was an earlier process's with the same pid,
 * and a later process given that pid must not be reported exited.
 */
export function beginLaunch(): Launch {
  const began = kept.begin();
  return {
    waitForExit: (pid) => {
      const exit = kept.claim(pid, began);
      return exit ? Promise.resolve(exit) : waitForExit(pid);
    },
    [Symbol.dispose]: () => kept.end(began),
  };
}
