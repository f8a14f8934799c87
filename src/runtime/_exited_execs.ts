/**
 * What the daemon learns of a task's exec'd processes as it runs them
 * (their stdio at Exec, pid at Start, exit at Wait): enough to answer
 * `State` for one that has exited without asking its shim. An exited
 * process's state no longer changes until it is deleted, and
 * `ctr tasks exec` asks for it once more between its Wait and its delete:
 * a round trip to the shim on the way from the process's exit to ctr's.
 *
 * Only an exit the shim told (its Wait answer) makes a process answerable
 * here; anything missing (a daemon started after the Exec) is asked of the
 * shim as ever. A process is forgotten before its delete is tried, and
 * every one with its task.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type StateResponse,
  StateResponseSchema,
} from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { Status } from "../gen/containerd/types/task/task_pb.ts";

/** An exec'd process's stdio, as its Exec gave it. */
export interface ExecStdio {
  /** stdin path ("" for none). */
  stdin: string;
  /** stdout path. */
  stdout: string;
  /** stderr path. */
  stderr: string;
  /** Whether it has a terminal. */
  terminal: boolean;
}

interface ExecRecord extends ExecStdio {
  pid?: number;
  exit?: { exitStatus: number; exitedAt?: Timestamp };
}

/** One task's exec'd processes, as far as the daemon saw them. */
export class ExitedExecs {
  readonly #execs = new Map<string, ExecRecord>();

  /** Process `execId` was added with `stdio`. */
  added(execId: string, stdio: ExecStdio): void {
    const { stdin, stdout, stderr, terminal } = stdio;
    this.#execs.set(execId, { stdin, stdout, stderr, terminal });
  }

  /** Process `execId` started as `pid`. */
  started(execId: string, pid: number): void {
    const record = this.#execs.get(execId);
    if (record) record.pid = pid;
  }

  /** Process `execId`'s shim told its exit. */
  exited(
    execId: string,
    exit: { exitStatus: number; exitedAt?: Timestamp },
  ): void {
    const record = this.#execs.get(execId);
    if (record?.pid !== undefined) record.exit = exit;
  }

  /**
   * The state of process `execId` of the task in `bundle`, as its shim
   * would answer it, when it is known to have exited; else undefined.
   */
  state(bundle: string, execId: string): StateResponse | undefined {
    const record = this.#execs.get(execId);
    if (!record?.exit || record.pid === undefined) return undefined;
    return create(StateResponseSchema, {
      id: execId,
      bundle,
      pid: record.pid,
      status: Status.STOPPED,
      stdin: record.stdin,
      stdout: record.stdout,
      stderr: record.stderr,
      terminal: record.terminal,
      exitStatus: record.exit.exitStatus,
      exitedAt: record.exit.exitedAt,
      execId,
    });
  }

  /** Forgets process `execId` (its delete is being tried). */
  forget(execId: string): void {
    this.#execs.delete(execId);
  }
}
