/**
 * Tasks and processes from the client: {@linkcode Task} (a container's
 * running init) and {@linkcode Process} (it, or an exec), with their stdio
 * through FIFOs the client makes (as containerd's `cio`), or FIFOs given,
 * or none.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Tasks } from "../gen/containerd/services/tasks/v1/tasks_pb.ts";
import type { Metric } from "../gen/containerd/types/metrics_pb.ts";
import type { SpecProcess } from "../oci/spec.ts";
import type { CoreClient as Client } from "./core.ts";
import { FifoSet, NULL_IO, type StdioPaths, type Streams } from "./fifos.ts";
import { processJSON } from "./spec_json.ts";

/**
 * Where ctr makes FIFOs is /run/containerd/fifo; berth's state is /run/berth.
 *
 * @example
 * ```ts
 * import { DEFAULT_FIFO_DIR } from "@berth/berth/client";
 * console.log(DEFAULT_FIFO_DIR); // "/run/berth/fifo"
 * ```
 */
export const DEFAULT_FIFO_DIR = "/run/berth/fifo";

/**
 * The type URL of an OCI process spec in an `Any`.
 *
 * @example
 * ```ts
 * import { PROCESS_TYPE_URL } from "@berth/berth/client";
 * console.log(PROCESS_TYPE_URL);
 * ```
 */
export const PROCESS_TYPE_URL =
  "types.containerd.io/opencontainers/runtime-spec/1/Process";

/**
 * How a process's stdio is set up: `stdio` copies the given streams
 * through FIFOs the client makes in `fifoDir`; `fifos` passes FIFO paths
 * made elsewhere; neither means no stdio (null IO).
 *
 * @example
 * ```ts
 * import { Client, type IOOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const io: IOOptions = { stdio: { stdout: Deno.stdout.writable, stderr: Deno.stderr.writable }, fifoDir: "/tmp/fifos" };
 * const task = await (await client.loadContainer("c1")).newTask(io);
 * ```
 */
export interface IOOptions {
  /** Streams to copy the process's stdio from and to. */
  stdio?: Streams;
  /** FIFO paths to hand over as they are. */
  fifos?: StdioPaths;
  /** Give the process a terminal (stdout then carries both streams). */
  terminal?: boolean;
  /** Where to make FIFOs (default {@linkcode DEFAULT_FIFO_DIR}). */
  fifoDir?: string;
}

/**
 * How a process ended.
 *
 * @example
 * ```ts
 * import { Client, type ExitStatus } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const status: ExitStatus = await (await (await client.loadContainer("c1")).task()).wait();
 * console.log(status.code);
 * ```
 */
export interface ExitStatus {
  /** Its exit code (128 + the signal when killed). */
  code: number;
  /** When it exited. */
  exitedAt?: Date;
}

/**
 * The FIFOs of process `id` for `options`: made (and copied) for `stdio`,
 * wrapped for `fifos`, none for null IO.
 *
 * @example
 * ```ts
 * import { openIO } from "@berth/berth/client";
 * const io = await openIO("c1", { fifoDir: "/tmp/fifos", stdio: { stdout: Deno.stdout.writable, stderr: Deno.stderr.writable } });
 * console.log(io?.paths.stdout);
 * ```
 */
export async function openIO(
  id: string,
  options: IOOptions,
): Promise<FifoSet | undefined> {
  const terminal = Boolean(options.terminal);
  if (options.fifos) return FifoSet.existing(options.fifos);
  if (!options.stdio) return undefined;
  return await FifoSet.create(
    options.fifoDir || DEFAULT_FIFO_DIR,
    id,
    terminal,
  );
}

/**
 * A process of a task: its init (`execId` "") or an exec.
 *
 * @example
 * ```ts
 * import { Client } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const task = await (await client.loadContainer("c1")).task();
 * const exited = task.wait();
 * await task.kill(15);
 * console.log((await exited).code);
 * ```
 */
export class Process {
  /** The container (and task) id. */
  readonly containerId: string;
  /** The exec id; "" for the init process. */
  readonly execId: string;
  /** Its pid, once created. */
  pid: number;
  /** Its FIFOs, when the client made or was given them. */
  readonly io?: FifoSet;
  /** The client it was made through. */
  protected readonly client: Client;
  #stdio?: Streams;

  /** A handle on a process (made by {@linkcode Task} and its `exec`). */
  constructor(
    client: Client,
    ref: { containerId: string; execId: string; pid?: number },
    io?: FifoSet,
    stdio?: Streams,
  ) {
    this.client = client;
    this.containerId = ref.containerId;
    this.execId = ref.execId;
    this.pid = ref.pid ?? 0;
    this.io = io;
    this.#stdio = stdio;
  }

  /** The request fields naming this process. */
  protected get ref(): { containerId: string; execId: string } {
    return { containerId: this.containerId, execId: this.execId };
  }

  /**
   * Starts copying stdio (once), with `CloseIO` when stdin ends. The
   * FIFOs are opened now: a shim (containerd's) waits for the client's
   * ends while it creates the process.
   */
  copyIO(): void {
    const stdio = this.#stdio;
    if (!stdio || !this.io) return;
    this.#stdio = undefined;
    this.io.copy(stdio, () => this.closeIO());
  }

  /** Starts the process; returns its pid. */
  async start(): Promise<number> {
    this.copyIO();
    const { pid } = await this.client.service(Tasks).start(this.ref);
    this.pid = pid;
    return pid;
  }

  /**
   * Resolves with the exit status once the process has exited and its
   * output has been copied. Call it before {@linkcode start} to be sure
   * to see even the quickest exit.
   */
  async wait(): Promise<ExitStatus> {
    this.copyIO();
    const { exitStatus, exitedAt } = await this.client.service(Tasks).wait(
      this.ref,
    );
    await this.io?.drained();
    return {
      code: exitStatus,
      exitedAt: exitedAt
        ? new Date(
          Number(exitedAt.seconds) * 1000 + exitedAt.nanos / 1e6,
        )
        : undefined,
    };
  }

  /** Sends signal number `signal` (default SIGTERM). */
  async kill(signal = 15, options: { all?: boolean } = {}): Promise<void> {
    await this.client.service(Tasks).kill({
      ...this.ref,
      signal,
      all: Boolean(options.all),
    });
  }

  /** Closes the process's stdin. */
  async closeIO(): Promise<void> {
    await this.client.service(Tasks).closeIO({ ...this.ref, stdin: true });
  }

  /** Resizes the process's terminal. */
  async resize(width: number, height: number): Promise<void> {
    await this.client.service(Tasks).resizePty({ ...this.ref, width, height });
  }

  /**
   * Deletes the (exited) process; returns its exit status and removes the
   * FIFOs the client made.
   */
  async delete(): Promise<ExitStatus> {
    const tasks = this.client.service(Tasks);
    const resp = this.execId
      ? await tasks.deleteProcess(this.ref)
      : await tasks.delete({ containerId: this.containerId });
    await this.io?.[Symbol.asyncDispose]();
    return { code: resp.exitStatus };
  }
}

/**
 * Options of {@linkcode Task.exec}.
 *
 * @example
 * ```ts
 * import { Client, type ExecOptions } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const container = await client.loadContainer("c1");
 * const options: ExecOptions = { process: { ...container.spec().process!, args: ["ls"] } };
 * const exec = await (await container.task()).exec("e1", options);
 * ```
 */
export interface ExecOptions extends IOOptions {
  /** The process spec (the container's process is the usual base). */
  process: SpecProcess;
}

/**
 * A container's task: its init process, plus what applies to the whole
 * task.
 *
 * @example
 * ```ts
 * import { Client } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const container = await client.loadContainer("c1");
 * const task = await container.newTask({ stdio: { stdout: Deno.stdout.writable, stderr: Deno.stderr.writable } });
 * const exited = task.wait();
 * await task.start();
 * console.log((await exited).code);
 * await task.delete();
 * ```
 */
export class Task extends Process {
  /** Freezes every process of the task. */
  async pause(): Promise<void> {
    await this.client.service(Tasks).pause({ containerId: this.containerId });
  }

  /** Thaws the task. */
  async resume(): Promise<void> {
    await this.client.service(Tasks).resume({
      containerId: this.containerId,
    });
  }

  /** The task's cgroup metrics (typed `Any`s: cgroup v1 or v2 stats). */
  async metrics(): Promise<Metric[]> {
    const { metrics } = await this.client.service(Tasks).metrics({
      filters: [`id==${this.containerId}`],
    });
    return metrics;
  }

  /** The pids of the task's processes. */
  async pids(): Promise<number[]> {
    const { processes } = await this.client.service(Tasks).listPids({
      containerId: this.containerId,
    });
    return processes.map((p) => p.pid);
  }

  /** Adds process `execId` to the task (not started yet). */
  async exec(execId: string, options: ExecOptions): Promise<Process> {
    const terminal = Boolean(options.terminal ?? options.process.terminal);
    const io = await openIO(execId, { ...options, terminal });
    const process = new Process(
      this.client,
      { containerId: this.containerId, execId },
      io,
      options.stdio,
    );
    process.copyIO();
    try {
      await this.client.service(Tasks).exec({
        containerId: this.containerId,
        execId,
        ...(io?.paths ?? { ...NULL_IO, terminal }),
        spec: create(AnySchema, {
          typeUrl: PROCESS_TYPE_URL,
          value: new TextEncoder().encode(
            processJSON({ ...options.process, terminal }),
          ),
        }),
      });
    } catch (err) {
      await io?.[Symbol.asyncDispose]();
      throw err;
    }
    return process;
  }
}
