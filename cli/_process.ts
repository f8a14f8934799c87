/**
 * Running a task's process from the client, in ctr's steps: the task is
 * created with the paths of the client's FIFOs (or none), the client
 * copies its stdio through them, waits for the exit while it starts the
 * process, forwards its signals (or, with a terminal, its window size),
 * and returns the exit status once the output has drained.
 *
 * @module
 */
import type { Container as ContainerRecord } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Container } from "../src/client/container.ts";
import { DEFAULT_FIFO_DIR } from "../src/client/task.ts";
import type { Connection } from "./_client.ts";
import type { ProcessRef } from "./_tasks.ts";
import { FifoSet, NULL_IO, type StdioPaths } from "../src/client/fifos.ts";
import { forwardSignals } from "./_signals.ts";
import { logLine } from "./_log.ts";

export { DEFAULT_FIFO_DIR } from "../src/client/task.ts";
export type { ProcessRef } from "./_tasks.ts";

/** How a process's stdio is set up. */
export interface StdioOptions {
  /** Send everything to /dev/null: no FIFOs. */
  nullIO?: boolean;
  /** Directory for the FIFOs (default {@linkcode DEFAULT_FIFO_DIR}). */
  fifoDir?: string;
  /** Give the process a terminal. */
  terminal: boolean;
}

/** The client's FIFOs for process `id`, or none for null IO. */
export async function openStdio(
  id: string,
  options: StdioOptions,
): Promise<FifoSet | undefined> {
  if (options.nullIO) {
    if (options.terminal) {
      throw new Error("tty and null-io cannot be used together");
    }
    return undefined;
  }
  return await FifoSet.create(
    options.fifoDir || DEFAULT_FIFO_DIR,
    id,
    options.terminal,
  );
}

/**
 * Creates the task of `container` with its stdio at `stdio`, its root
 * filesystem the container's snapshot mounts (the client library's
 * `Container.newTask`, as ctr's `NewTask`). Returns the task's pid.
 */
export async function createTask(
  conn: Connection,
  container: ContainerRecord,
  stdio: StdioPaths,
): Promise<number> {
  const task = await new Container(conn.api, container).newTask({
    fifos: stdio,
    terminal: stdio.terminal,
  });
  return task.pid;
}

/** An error logged on stderr, as ctr's logrus writes it. */
function logError(msg: string, err: unknown): void {
  let data = new TextEncoder().encode(logLine("error", msg, err));
  while (data.length) data = data.subarray(Deno.stderr.writeSync(data));
}

/** Keeps the task's terminal the size of the client's, as ctr does. */
function followWindowSize(conn: Connection, ref: ProcessRef): Disposable {
  const resize = async () => {
    try {
      const { columns, rows } = Deno.consoleSize();
      await conn.client(Tasks).resizePty({
        ...ref,
        width: columns,
        height: rows,
      }, { signal: conn.signal });
    } catch (err) {
      logError("resize pty", err);
    }
  };
  resize();
  Deno.addSignalListener("SIGWINCH", resize);
  return {
    [Symbol.dispose]: () => Deno.removeSignalListener("SIGWINCH", resize),
  };
}

/** Puts the client's terminal in raw mode until disposed. */
export function rawTerminal(): Disposable {
  Deno.stdin.setRaw(true);
  return { [Symbol.dispose]: () => Deno.stdin.setRaw(false) };
}

/** Options for {@linkcode superviseProcess}. */
export interface SuperviseOptions {
  /** Start the process (false when attaching to a running one). */
  start: boolean;
  /** Return right after starting, without copying IO or waiting. */
  detach?: boolean;
  /** The process has a terminal: resize it rather than forward signals. */
  terminal: boolean;
}

/**
 * Runs process `ref` (created with `fifos`) attached to the client's
 * stdio: copies its IO, starts it, forwards signals or window sizes, and
 * returns its exit status when it has exited and its output has drained
 * (undefined when detached). Disposes of `fifos`.
 */
export async function superviseProcess(
  conn: Connection,
  ref: ProcessRef,
  fifos: FifoSet | undefined,
  options: SuperviseOptions,
): Promise<number | undefined> {
  await using _fifos = fifos;
  const tasks = conn.client(Tasks);
  const { signal } = conn;
  if (options.detach) {
    if (options.start) await tasks.start(ref, { signal });
    return undefined;
  }
  fifos?.copy(
    {
      stdin: Deno.stdin.readable,
      stdout: Deno.stdout.writable,
      stderr: Deno.stderr.writable,
    },
    () => tasks.closeIO({ ...ref, stdin: true }, { signal }),
  );
  // Waiting begins before the start, so that no exit can be missed.
  const exited = tasks.wait(ref, { signal });
  exited.catch(() => {});
  // Signals are caught from before the start (the process may already be
  // talking when the start's answer arrives) and passed on once started.
  const started = options.start
    ? tasks.start(ref, { signal }).then(() => {})
    : Promise.resolve();
  using _signals = options.terminal
    ? undefined
    : forwardSignals((sig) =>
      started.then(() => tasks.kill({ ...ref, signal: sig }, { signal }))
    );
  await started;
  using _relay = options.terminal ? followWindowSize(conn, ref) : undefined;
  const { exitStatus } = await exited;
  await fifos?.drained();
  return exitStatus;
}

/** Options for {@linkcode runTask}. */
export interface RunTaskOptions extends StdioOptions {
  /** Return after the start, with the task's stdio going nowhere. */
  detach?: boolean;
  /** A file to write the task's pid to once it is created. */
  pidFile?: string;
}

/**
 * Creates and starts the task of `container` and, unless detached, runs it
 * attached to the client's stdio, then deletes the task. Returns its exit
 * status (undefined when detached).
 */
export async function runTask(
  conn: Connection,
  container: ContainerRecord,
  options: RunTaskOptions,
): Promise<number | undefined> {
  const { terminal, detach } = options;
  using _raw = terminal && !detach ? rawTerminal() : undefined;
  const fifos = detach ? undefined : await openStdio(container.id, options);
  try {
    const pid = await createTask(
      conn,
      container,
      fifos?.paths ?? { ...NULL_IO, terminal },
    );
    if (options.pidFile) await Deno.writeTextFile(options.pidFile, `${pid}`);
  } catch (err) {
    await fifos?.[Symbol.asyncDispose]();
    throw err;
  }
  const ref = { containerId: container.id, execId: "" };
  const remove = () =>
    conn.client(Tasks).delete({ containerId: container.id }, {
      signal: conn.signal,
    });
  let status: number | undefined;
  try {
    status = await superviseProcess(conn, ref, fifos, {
      start: true,
      detach,
      terminal,
    });
  } catch (err) {
    // As ctr's deferred delete: the first error is the one reported.
    if (!detach) await remove().catch(() => {});
    throw err;
  }
  if (!detach) await remove();
  return status;
}
