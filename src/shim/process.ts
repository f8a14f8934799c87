/**
 * One process the shim supervises: the container's init process or an
 * exec'd one. Both are launched by a runc command that hands over their
 * stdio and returns their pid; the shim, their subreaper, then reaps them.
 *
 * @module
 */
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StateResponseSchema } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { BerthError, Code } from "../types/errors.ts";
import { ProcessIO, type StdioPaths } from "./io.ts";
import { beginLaunch, type ExitStatus } from "./reaper.ts";
import type { StdioFiles } from "./runc.ts";
import { toTimestamp } from "./timestamp.ts";

/** Go's zero time: the exit time containerd reports for no exit. */
const NEVER_EXITED = new Date("0001-01-01T00:00:00Z");

/** Runs the process with `stdio` and extra runc arguments; returns its pid. */
export type Launch = (
  stdio: StdioFiles,
  runcArgs: string[],
) => Promise<number>;

/** What a process is, apart from how it is launched. */
export interface ProcessOptions {
  /** The container's id. */
  containerId: string;
  /** The exec id, "" for the init process. */
  execId: string;
  /** The bundle directory. */
  bundle: string;
  /** The client's stdio. */
  stdio: StdioPaths;
  /** Called once with the exit and pid, after the output reached the client. */
  onExit?: (exit: ExitStatus, pid: number) => Promise<void> | void;
}

/** A supervised process. */
export class ShimProcess {
  /** How it was set up. */
  readonly options: ProcessOptions;
  /** Its pid, 0 until launched. */
  pid = 0;
  /** Its exit, once it has exited. */
  exit: ExitStatus | undefined;
  readonly #exited = Promise.withResolvers<ExitStatus>();
  /** A launch was tried: a process is launched once, whatever came of it. */
  #launched = false;
  #io: ProcessIO | undefined;
  /** The stdio opened ahead of the launch (see `openStdio`). */
  #opened: Promise<ProcessIO> | undefined;
  #closed = false;
  /** Settles once a start in progress has been published. */
  #startPublished: Promise<void> = Promise.resolve();

  /** A process not yet launched. */
  constructor(options: ProcessOptions) {
    this.options = options;
  }

  /** Resolves with the exit once the process has exited and been reaped. */
  get exited(): Promise<ExitStatus> {
    return this.#exited.promise;
  }

  /**
   * Opens the stdio ahead of the launch (an exec's, at Exec): the client's
   * FIFOs are open from then on, so a client waiting in its opens of them
   * goes on before Start (ctr's blocking opens hold its runtime's threads,
   * and its next call can wait for one). One that fails is left to the
   * launch, which opens again and fails the Start, as containerd's shim
   * fails it.
   */
  async openStdio(): Promise<void> {
    if (this.#opened || this.#launched || this.#closed) return;
    const opened = ProcessIO.open(this.options.stdio);
    this.#opened = opened;
    try {
      const io = await opened;
      // Deleted meanwhile: nothing will launch.
      if (this.#closed) io.close();
    } catch {
      if (this.#opened === opened) this.#opened = undefined;
    }
  }

  /**
   * Opens the stdio (unless `openStdio` did), runs `launch`, and starts
   * watching for the exit. A failed launch closes the stdio and rethrows.
   */
  async launch(launch: Launch): Promise<number> {
    if (this.#launched) {
      throw new BerthError(
        Code.FailedPrecondition,
        `process ${this.#name()} already started`,
      );
    }
    this.#launched = true;
    const opened = this.#opened;
    this.#opened = undefined;
    const io = await opened?.catch(() => undefined) ??
      await ProcessIO.open(this.options.stdio);
    // Its process may exit before the pid is known: the exit is kept.
    using launching = beginLaunch();
    try {
      this.pid = await launch(io.files, io.runcArgs);
    } catch (err) {
      io.close();
      // It never ran, and stays created with no exit, as in containerd's
      // shim, whose waiters then learn status 0 at Go's zero time.
      this.#exited.resolve({ status: 0, exitedAt: NEVER_EXITED });
      throw err;
    }
    this.#io = io;
    const watched = launching.waitForExit(this.pid);
    try {
      await io.started();
    } catch (err) {
      // No terminal came: the process is useless to the client.
      io.close();
      throw err;
    }
    watched.then(async (exit) => {
      // Nothing of the exit is done before the start has been answered.
      await this.#startPublished;
      await io.drained();
      io.close();
      // A client closes its readers once it learns of the exit.
      await io.outputTaken();
      this.exit = exit;
      await this.options.onExit?.(exit, this.pid);
      this.#exited.resolve(exit);
    });
    return this.pid;
  }

  /**
   * Holds the exit back until the returned function is called: a start
   * holds it while it runs, so that however fast the process exits, its
   * exit is told after its start, as containerd's shim does. The exit is
   * then dealt with in a later turn of the event loop, once the start's
   * answer has left: an exec's process has mostly exited by the time
   * `runc exec` returns, and its client (ctr sets up its signal
   * forwarding) goes on while the shim drains, closes and publishes.
   */
  holdExit(): () => void {
    const held = Promise.withResolvers<void>();
    this.#startPublished = held.promise;
    // Not setTimeout(…, 0): Deno fires that 2 ms or more later.
    return () => setImmediate(held.resolve);
  }

  /** Sets the terminal size. */
  resize(width: number, height: number): void {
    this.#io?.resize(width, height);
  }

  /** Ends the process's stdin. */
  closeStdin(): void {
    this.#io?.closeStdin();
  }

  /**
   * Releases the stdio of a process that never launched or is gone; resolves
   * once output held for a late reader has been read or let go.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#opened?.then((io) => io.close(), () => {});
    this.#io?.close();
    return this.#io?.abandonOutput() ?? Promise.resolve();
  }

  /** Its state as the task API reports it; `status` while it runs. */
  state(status: Status): MessageInitShape<typeof StateResponseSchema> {
    const { containerId, execId, bundle, stdio } = this.options;
    return {
      id: execId || containerId,
      bundle,
      pid: this.pid,
      status: this.exit ? Status.STOPPED : status,
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
      terminal: stdio.terminal,
      exitStatus: this.exit?.status ?? 0,
      exitedAt: this.exit ? toTimestamp(this.exit.exitedAt) : undefined,
      execId,
    };
  }

  #name() {
    return this.options.execId || this.options.containerId;
  }
}
