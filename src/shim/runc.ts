/**
 * A thin client for the `runc` command line.
 *
 * Commands run through `Deno.Command`. `runc create` and `runc exec` hand
 * the process's stdio on to it, so they are started with `posix_spawn`,
 * the child opening the stdio files (the shim's pipes, through `/proc`) as
 * fds 0, 1 and 2 itself: no shell in between, one program start fewer on
 * a container's create and on each exec. runc's own messages go to a JSON
 * log file, so failures are reported with runc's last error.
 *
 * @module
 */
import { BerthError, Code } from "../types/errors.ts";
import { dirname, join } from "../types/path.ts";
import { type DetachedTmpfs, detachedTmpfs } from "../sys/detached_tmpfs.ts";
import { Errno, SyscallError } from "../sys/libc.ts";
import {
  fileIdentity,
  holdSealedCopy,
  type SealedCopy,
} from "../sys/sealed_copy.ts";
import { programPath, spawnWithStdio } from "../sys/spawn.ts";
import { spawnCommand, waitForExit } from "./reaper.ts";

/** Where and how runc runs. */
export interface RuncOptions {
  /** The runc binary (default `runc`). */
  binary?: string;
  /** runc's state root (`--root`). */
  root: string;
  /** runc's JSON log file (`--log`). */
  log: string;
}

/** `runc events --stats` data: the parts berth reports. */
export interface RuncStats {
  /** CPU time in nanoseconds and throttling. */
  cpu?: {
    usage?: {
      total?: number;
      percpu?: number[];
      kernel?: number;
      user?: number;
    };
    throttling?: {
      periods?: number;
      throttled_periods?: number;
      throttled_time?: number;
    };
  };
  /** Memory usage; `raw` is the cgroup's `memory.stat`. */
  memory?: {
    usage?: RuncMemoryEntry;
    swap?: RuncMemoryEntry;
    kernel?: RuncMemoryEntry;
    kernelTCP?: RuncMemoryEntry;
    raw?: Record<string, number>;
  };
  /** Process count and limit. */
  pids?: { current?: number; limit?: number };
  /** Block I/O by device and operation. */
  blkio?: Record<string, RuncBlkioEntry[] | undefined>;
  /** Huge pages by page size. */
  hugetlb?: Record<string, { usage?: number; max?: number; failcnt?: number }>;
}

/** One memory counter of {@linkcode RuncStats}. */
export interface RuncMemoryEntry {
  /** Limit in bytes. */
  limit?: number;
  /** Usage in bytes. */
  usage?: number;
  /** Peak usage in bytes. */
  max?: number;
  /** Times the limit was hit. */
  failcnt?: number;
}

/** One block I/O counter of {@linkcode RuncStats}. */
export interface RuncBlkioEntry {
  /** Device major number. */
  major?: number;
  /** Device minor number. */
  minor?: number;
  /** Read, Write, Sync, Async, Total, ... */
  op?: string;
  /** The count. */
  value?: number;
}

/**
 * The files a process gets as stdin, stdout and stderr: pipes (as
 * `/proc/PID/fd/N`) or `/dev/null`.
 */
export type StdioFiles = [stdin: string, stdout: string, stderr: string];

/**
 * A failed kill as containerd's shim reports it (its `checkKillError`):
 * NotFound when the process or container is gone, else Unknown with the
 * reason (`unknown error after kill: REASON`); `prefix` goes before.
 */
export function killFailure(reason: string, prefix = ""): BerthError {
  if (
    reason.includes("os: process already finished") ||
    reason.includes("container not running") ||
    reason.toLowerCase().includes("no such process")
  ) {
    return new BerthError(Code.NotFound, `${prefix}process already finished`);
  }
  if (reason.includes("does not exist")) {
    return new BerthError(Code.NotFound, `${prefix}no such container`);
  }
  return new BerthError(
    Code.Unknown,
    `${prefix}unknown error after kill: ${reason}`,
  );
}

/** The variable in which the daemon names its sealed copy of runc. */
export const SEALED_RUNC_ENV = "BERTH_SEALED_RUNC";

let sealedRunc: SealedCopy | undefined;

/**
 * Takes hold of the sealed copy of runc the daemon named in this process's
 * environment (see `sys/sealed_copy.ts`), so that runc runs from it even
 * after the daemon is gone; a copy that cannot be held is passed over.
 */
export function holdSealedRunc(): void {
  const named = Deno.env.get(SEALED_RUNC_ENV);
  if (!named) return;
  Deno.env.delete(SEALED_RUNC_ENV); // not for runc and its children
  try {
    sealedRunc = holdSealedCopy(JSON.parse(named));
  } catch {
    sealedRunc = undefined;
  }
}

/**
 * Sets what every runc this process runs inherits: `GOMAXPROCS=1`. runc's
 * work is a sequence of steps with nothing to run in parallel, and `runc
 * init`, which gets runc's GOMAXPROCS passed on, sets one processor itself
 * as it starts: a stop-the-world it skips when it starts with one
 * (measured: ~0.5 ms less CPU per `runc exec`, a tenth fewer context
 * switches). runc passes nothing else of its environment on: the
 * container's processes get their spec's.
 */
export function setRuncEnvironment(): void {
  Deno.env.set("GOMAXPROCS", "1");
}

/** Where runc writes pid files; null when no detached tmpfs could be made. */
let pidFiles: DetachedTmpfs | null | undefined;
let pidFilesMade = 0;

/**
 * A new path for a pid file that runc writes and the shim reads once: in
 * a detached tmpfs of this process (see `sys/detached_tmpfs.ts`), made at
 * first use, else in `dir`. runc writes pid files `O_SYNC`, which in a
 * disk-backed bundle waits for the disk (~0.3 ms per exec here, more when
 * the disk is busy).
 */
function newPidFile(dir: string): string {
  if (pidFiles === undefined) {
    try {
      // A size limit, not a reservation: room for thousands at once.
      pidFiles = detachedTmpfs({ size: "16m" });
    } catch {
      pidFiles = null;
    }
  }
  return join(pidFiles?.path ?? dir, `runc-${++pidFilesMade}.pid`);
}

/** A runc command line bound to one state root and log file. */
export class Runc {
  /** The runc binary. */
  readonly binary: string;
  /** runc's state root. */
  readonly root: string;
  /** runc's JSON log file. */
  readonly log: string;

  /** Creates a client for `options`. */
  constructor(options: RuncOptions) {
    this.binary = options.binary || "runc";
    this.root = options.root;
    this.log = options.log;
  }

  /**
   * The file run as runc: the sealed copy while it is a copy of this
   * binary as it stands (a runc replaced meanwhile runs from its file).
   */
  #program(): string {
    if (!sealedRunc) return this.binary;
    const file = programPath(this.binary);
    if (
      file !== sealedRunc.source || fileIdentity(file) !== sealedRunc.identity
    ) return this.binary;
    return sealedRunc.path;
  }

  #global(): string[] {
    return ["--root", this.root, "--log", this.log, "--log-format", "json"];
  }

  /** Runs `runc ARGS`, returning its stdout; a failure becomes an error. */
  async run(args: string[]): Promise<string> {
    const out = await this.#output(args);
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).trim();
      throw this.#error(args[0], stderr || await this.lastError());
    }
    return new TextDecoder().decode(out.stdout);
  }

  #output(args: string[]): Promise<Deno.CommandOutput> {
    return spawnCommand(
      new Deno.Command(this.#program(), {
        args: [...this.#global(), ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    ).output();
  }

  /**
   * `runc create`: creates container `id` from `bundle`, the init process
   * with stdio `stdio`. Returns its pid.
   */
  async create(
    id: string,
    bundle: string,
    stdio: StdioFiles,
    extraArgs: string[] = [],
  ): Promise<number> {
    return await this.#runWithStdio(
      "create",
      ["--bundle", bundle, ...extraArgs, id],
      stdio,
      bundle,
    );
  }

  /**
   * `runc exec --detach`: starts the process described by `processFile` (an
   * OCI process JSON) in container `id` with stdio `stdio`; returns its pid.
   */
  async exec(
    id: string,
    processFile: string,
    stdio: StdioFiles,
    extraArgs: string[] = [],
  ): Promise<number> {
    return await this.#runWithStdio(
      "exec",
      ["--detach", "--process", processFile, ...extraArgs, id],
      stdio,
      undefined,
    );
  }

  /** Runs `runc COMMAND ARGS` with stdio `stdio`; returns the pid it wrote. */
  async #runWithStdio(
    command: string,
    args: string[],
    stdio: StdioFiles,
    cwd: string | undefined,
  ): Promise<number> {
    // Beside the log (in the bundle) when there is no detached tmpfs.
    const pidFile = newPidFile(dirname(this.log));
    try {
      await this.#spawnAndWait(
        command,
        ["--pid-file", pidFile, ...args],
        stdio,
        cwd,
      );
      return parseInt(Deno.readTextFileSync(pidFile).trim(), 10);
    } finally {
      try {
        Deno.removeSync(pidFile);
      } catch {
        // never written: runc failed first
      }
    }
  }

  /** Runs `runc COMMAND ARGS` with stdio `stdio`; throws unless it exits 0. */
  async #spawnAndWait(
    command: string,
    args: string[],
    stdio: StdioFiles,
    cwd: string | undefined,
  ): Promise<void> {
    let pid;
    try {
      pid = spawnWithStdio(
        this.#program(),
        [this.binary, ...this.#global(), command, ...args],
        { stdio, cwd },
      );
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) {
        throw await this.#runtimeFailure(
          command,
          `fork/exec ${this.binary}: no such file or directory`,
        );
      }
      throw err;
    }
    // The shim reaps it, on SIGCHLD, as it reaps its containers' processes.
    const { status } = await waitForExit(pid);
    if (status !== 0) {
      throw await this.#runtimeFailure(
        command,
        `${this.binary} ${command} exited with status ${status}`,
      );
    }
  }

  /** `runc start ID`. */
  async start(id: string): Promise<void> {
    const out = await this.#output(["start", id]);
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).trim();
      throw await this.#runtimeFailure(
        "start",
        stderr || `${this.binary} start exited with status ${out.code}`,
      );
    }
  }

  /**
   * A failed create, exec or start as containerd's shim words it (`OCI
   * runtime start failed: REASON`, code Unknown): the reason is runc's last
   * logged error, else `otherwise`.
   */
  async #runtimeFailure(
    command: string,
    otherwise: string,
  ): Promise<BerthError> {
    const reason = await this.lastError() || otherwise;
    return new BerthError(
      Code.Unknown,
      `OCI runtime ${command} failed: ${reason}`,
    );
  }

  /**
   * `runc kill [--all] ID SIGNAL`; a failure is worded as containerd's shim
   * words it ({@linkcode killFailure} of go-runc's error).
   */
  async kill(id: string, signal: number, all = false): Promise<void> {
    const out = await this.#output([
      "kill",
      ...(all ? ["--all"] : []),
      id,
      String(signal),
    ]);
    if (out.success) return;
    const decoder = new TextDecoder();
    // runc's output as go-runc quotes it: whole, stdout then stderr.
    const output = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    throw killFailure(
      `${this.binary} did not terminate successfully: exit status ${out.code}: ${output}`,
    );
  }

  /** `runc delete [--force] ID`. */
  async delete(id: string, force = false): Promise<void> {
    await this.run(["delete", ...(force ? ["--force"] : []), id]);
  }

  /** `runc ps --format json ID`: the container's pids. */
  async ps(id: string): Promise<number[]> {
    const out = JSON.parse(await this.run(["ps", "--format", "json", id]));
    return Array.isArray(out) ? out as number[] : [];
  }

  /** `runc pause ID`. */
  async pause(id: string): Promise<void> {
    await this.run(["pause", id]);
  }

  /** `runc resume ID`. */
  async resume(id: string): Promise<void> {
    await this.run(["resume", id]);
  }

  /** `runc update --resources FILE ID`: applies OCI `LinuxResources`. */
  async update(id: string, resourcesFile: string): Promise<void> {
    await this.run(["update", "--resources", resourcesFile, id]);
  }

  /** `runc events --stats ID`: the container's cgroup statistics. */
  async stats(id: string): Promise<RuncStats> {
    const event = JSON.parse(await this.run(["events", "--stats", id]));
    return (event?.data ?? {}) as RuncStats;
  }

  /** The last error message in runc's JSON log, or "" if none. */
  async lastError(): Promise<string> {
    let text;
    try {
      text = await Deno.readTextFile(this.log);
    } catch {
      return "";
    }
    let last = "";
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        if (entry.level === "error" && entry.msg) last = entry.msg;
      } catch {
        // not JSON
      }
    }
    return last;
  }

  #error(command: string, message: string): BerthError {
    const code = /does not exist|not found/i.test(message)
      ? Code.NotFound
      : /not running|already|cannot|is paused|is stopped/i.test(message)
      ? Code.FailedPrecondition
      : Code.Unknown;
    return new BerthError(code, `runc ${command}: ${message || "failed"}`);
  }
}
