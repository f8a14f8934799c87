/**
 * Process supervision through libc: becoming a child subreaper and reaping
 * one specific child with `waitid` (never a reaping `P_ALL`, which would
 * steal the children `Deno.Command` waits for; `P_ALL` only peeks).
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";

const SYMBOLS = {
  prctl: {
    parameters: ["i32", "u64", "u64", "u64", "u64"],
    result: "i32",
  },
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const proc = libcSymbols(SYMBOLS);

const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;
const P_ALL = 0;
const P_PID = 1;
const ECHILD = 10;
/** `waitid` options. */
export const WAIT = {
  /** Wait for children that have exited. */
  EXITED: 4,
  /** Return at once when no child has changed state. */
  NOHANG: 1,
  /** Leave the child waitable (peek). */
  NOWAIT: 0x01000000,
} as const;

/** `si_code` values of a `SIGCHLD` siginfo. */
const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;

/** Makes this process the subreaper of its orphaned descendants. */
export function setChildSubreaper(on = true): void {
  if (proc().prctl(PR_SET_CHILD_SUBREAPER, on ? 1n : 0n, 0n, 0n, 0n) !== 0) {
    throw new SyscallError("prctl(PR_SET_CHILD_SUBREAPER)", errno());
  }
}

/** True when this process is a child subreaper. */
export function isChildSubreaper(): boolean {
  const out = new BigUint64Array(1);
  const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
  if (proc().prctl(PR_GET_CHILD_SUBREAPER, ptr, 0n, 0n, 0n) !== 0) {
    throw new SyscallError("prctl(PR_GET_CHILD_SUBREAPER)", errno());
  }
  return new Int32Array(out.buffer)[0] !== 0;
}

/** How a reaped child ended. */
export interface ChildExit {
  /** The child's pid. */
  pid: number;
  /** Exit code when it exited, else undefined. */
  code?: number;
  /** Terminating signal when it was killed, else undefined. */
  signal?: number;
}

/**
 * One non-blocking `waitid(P_PID, pid, WEXITED|WNOHANG)`: the child's exit
 * when it has ended (and is now reaped), else null while it still runs.
 *
 * @throws {SyscallError} e.g. `ECHILD` when `pid` is not our child.
 */
export function reapChild(pid: number): ChildExit | null {
  // siginfo_t is 128 bytes; on 64-bit Linux si_pid is at 16, si_status at 24.
  const info = new Uint8Array(128);
  const rc = proc().waitid(P_PID, pid, info, WAIT.EXITED | WAIT.NOHANG);
  if (rc !== 0) throw new SyscallError(`waitid(${pid})`, errno());
  const view = new DataView(info.buffer);
  const gotPid = view.getInt32(16, true);
  if (gotPid === 0) return null;
  const code = view.getInt32(8, true);
  const status = view.getInt32(24, true);
  if (code === CLD_EXITED) return { pid: gotPid, code: status };
  if (code === CLD_KILLED || code === CLD_DUMPED) {
    return { pid: gotPid, signal: status };
  }
  return { pid: gotPid, code: status };
}

/**
 * Sends signal number `signal` to process `pid` (Deno's own `kill` takes
 * only signal names).
 *
 * @throws {SyscallError} e.g. `ESRCH` when there is no such process.
 */
export function signalProcess(pid: number, signal: number): void {
  if (proc().kill(pid, signal) !== 0) {
    throw new SyscallError(`kill(${pid}, ${signal})`, errno());
  }
}

/**
 * The pid of a child that has exited and waits to be reaped, without
 * reaping it (`waitid(P_ALL, …, WNOWAIT)`), or 0 when there is none.
 */
export function peekExitedChild(): number {
  const info = new Uint8Array(128);
  const flags = WAIT.EXITED | WAIT.NOHANG | WAIT.NOWAIT;
  if (proc().waitid(P_ALL, 0, info, flags) !== 0) {
    const code = errno();
    if (code === ECHILD) return 0;
    throw new SyscallError("waitid(P_ALL)", code);
  }
  return new DataView(info.buffer).getInt32(16, true);
}
