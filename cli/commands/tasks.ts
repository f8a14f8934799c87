/**
 * `berth ctr tasks attach|rm|exec|ls|kill|pause|ps|resume|start|metrics`:
 * a container's running task and its processes, as ctr 1.6 drives and
 * prints them.
 *
 * @module
 */
import type { Command } from "commander";
import { create, fromBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Container } from "../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Tasks } from "../../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { ProcessDetailsSchema } from "../../src/gen/containerd/runc/options/oci_pb.ts";
import {
  type Process,
  Status,
} from "../../src/gen/containerd/types/task/task_pb.ts";
import { type Spec, type SpecProcess, withUser } from "../../src/oci/mod.ts";
import type { Connection } from "../_client.ts";
import { errorMessage } from "../../src/client/errors.ts";
import { ExitError } from "../_exit.ts";
import { FifoSet, NULL_IO } from "../../src/client/fifos.ts";
import { tabwrite } from "../_format.ts";
import { decodeMetrics, metricsJSON, metricsTable } from "../_metrics.ts";
import {
  openStdio,
  type ProcessRef,
  rawTerminal,
  runTask,
  superviseProcess,
} from "../_process.ts";
import { parseSignal } from "../_signals.ts";
import { processJSON } from "../../src/client/spec_json.ts";
import { writeStdoutSync } from "../_progress.ts";
import { getContainer } from "./containers.ts";
import { logLine } from "./images.ts";
import { STOP_SIGNAL_LABEL } from "../../src/client/container.ts";

/** The type URL of an OCI process spec in an `Any`. */
const PROCESS_TYPE_URL =
  "types.containerd.io/opencontainers/runtime-spec/1/Process";

const print = (text: string) => writeStdoutSync(text);

function log(level: "warning" | "error", msg: string, err?: unknown) {
  let data = new TextEncoder().encode(logLine(level, msg, err));
  while (data.length) data = data.subarray(Deno.stderr.writeSync(data));
}

const isNotFound = (err: unknown) =>
  err instanceof ConnectError && err.code === Code.NotFound;

/** A status as containerd's client names it: `running`, `stopped` … */
const statusName = (status: Status) => Status[status].toLowerCase();

/**
 * The container's task (`container.Task`): its init process, or an error
 * naming what is missing.
 */
async function loadTask(conn: Connection, id: string): Promise<Process> {
  await getContainer(conn, id);
  return await getProcess(conn, { containerId: id, execId: "" });
}

/** A task's process, NotFound worded as ctr's client words it. */
async function getProcess(conn: Connection, ref: ProcessRef) {
  try {
    const { process } = await conn.client(Tasks).get(ref, {
      signal: conn.signal,
    });
    return process!;
  } catch (err) {
    if (isNotFound(err)) {
      const what = ref.execId ? "process" : "task";
      throw new Error(`no running ${what} found: ${errorMessage(err)}`);
    }
    throw err;
  }
}

/** A container's spec, decoded from its `Any`. */
function specOf(container: Container): Spec {
  return JSON.parse(new TextDecoder().decode(container.spec?.value));
}

/**
 * Kills the process with SIGKILL (all of a task's processes) and waits
 * for it to exit, as ctr's `WithProcessKill`.
 */
async function killAndWait(conn: Connection, ref: ProcessRef): Promise<void> {
  const tasks = conn.client(Tasks);
  const exited = tasks.wait(ref, { signal: conn.signal });
  exited.catch(() => {});
  try {
    await tasks.kill({ ...ref, signal: 9, all: true }, {
      signal: conn.signal,
    });
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.FailedPrecondition) {
      return;
    }
    if (!isNotFound(err)) throw err;
  }
  await exited;
}

/**
 * Deletes a task or exec process that is not running (ctr checks on the
 * client); returns its exit status.
 */
async function deleteProcess(
  conn: Connection,
  ref: ProcessRef,
  force: boolean,
): Promise<number> {
  if (force) await killAndWait(conn, ref);
  const tasks = conn.client(Tasks);
  const { signal } = conn;
  if (ref.execId) {
    const { status } = await getProcess(conn, ref);
    if ([Status.RUNNING, Status.PAUSED, Status.PAUSING].includes(status)) {
      throw new Error(
        `current process state: ${
          statusName(status)
        }, process must be stopped before deletion: failed precondition`,
      );
    }
    return (await tasks.deleteProcess(ref, { signal })).exitStatus;
  }
  const { status, pid } = await getProcess(conn, ref);
  const deletable = status === Status.STOPPED ||
    status === Status.UNKNOWN || (status === Status.CREATED && pid === 0);
  if (!deletable) {
    throw new Error(
      `task must be stopped before deletion: ${
        statusName(status)
      }: failed precondition`,
    );
  }
  return (await tasks.delete({ containerId: ref.containerId }, { signal }))
    .exitStatus;
}

/** A process's `%+v` info in `tasks ps`: runc's exec details, or `-`. */
function processInfo(info: { typeUrl: string; value: Uint8Array } | undefined) {
  if (!info) return "-";
  if (info.typeUrl.endsWith(ProcessDetailsSchema.typeName)) {
    const { execId } = fromBinary(ProcessDetailsSchema, info.value);
    return `&ProcessDetails{ExecID:${execId},XXX_unrecognized:[],}`;
  }
  return info.typeUrl;
}

/** Adds the command to `program`. */
export function tasksCommand(
  program: Command,
  connect: () => Connection,
): void {
  const tasks = program.command("tasks").aliases(["t", "task"])
    .description("manage tasks")
    // Flags after a container id belong to the command `exec` runs.
    .enablePositionalOptions();

  tasks.command("attach")
    .description("attach to the IO of a running container")
    .usage("CONTAINER")
    .argument("[id]", "", "")
    .action(async (id: string) => {
      const conn = connect();
      const spec = specOf(await getContainer(conn, id));
      const terminal = Boolean(spec.process?.terminal);
      using _raw = terminal ? rawTerminal() : undefined;
      const process = await loadTask(conn, id);
      const fifos = FifoSet.existing({
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        terminal,
      });
      const ref = { containerId: id, execId: "" };
      let status: number | undefined;
      try {
        status = await superviseProcess(conn, ref, fifos, {
          start: false,
          terminal,
        });
      } finally {
        await deleteProcess(conn, ref, false).catch(() => {});
      }
      if (status) throw new ExitError(status);
    });

  tasks.command("delete").aliases(["del", "remove", "rm"])
    .description("delete one or more tasks")
    .usage("[command options] CONTAINER [CONTAINER, ...]")
    .argument("[ids...]")
    .option("-f, --force", "force delete task process")
    .option("--exec-id <id>", "process ID to kill")
    .action(async (ids: string[], opts) => {
      const conn = connect();
      const force = Boolean(opts.force);
      if (opts.execId) {
        await loadTask(conn, ids[0] ?? "");
        const ref = { containerId: ids[0], execId: opts.execId };
        await getProcess(conn, ref);
        const code = await deleteProcess(conn, ref, force);
        if (code) throw new ExitError(code);
        return;
      }
      let failure: unknown;
      for (const id of ids) {
        try {
          await loadTask(conn, id);
        } catch (err) {
          failure ??= err;
          log("error", `failed to load task from ${id}`, err);
          continue;
        }
        try {
          const code = await deleteProcess(
            conn,
            { containerId: id, execId: "" },
            force,
          );
          if (code) {
            log("warning", `task ${id} exit with non-zero exit code ${code}`);
          }
        } catch (err) {
          failure ??= err;
          log("error", `unable to delete ${id}`, err);
        }
      }
      if (failure) throw failure;
    });

  tasks.command("exec")
    .description("execute additional processes in an existing container")
    .usage("[command options] [flags] CONTAINER CMD [ARG...]")
    .argument("[id]", "", "")
    .argument("[args...]")
    .passThroughOptions()
    .option("--cwd <dir>", "working directory of the new process")
    .option("-t, --tty", "allocate a TTY for the container")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution",
    )
    .requiredOption("--exec-id <id>", "exec specific id for the process")
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .option("--user <user>", "user id or name")
    .action(async (id: string, args: string[], opts) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      const spec = specOf(await getContainer(conn, id));
      const task = await loadTask(conn, id);
      if (opts.user) {
        // Names resolve in the running container's root filesystem.
        await withUser(opts.user, { rootfs: `/proc/${task.pid}/root` })(spec);
      }
      const terminal = Boolean(opts.tty);
      const process: SpecProcess = {
        ...spec.process!,
        terminal,
        args,
        cwd: opts.cwd || spec.process!.cwd,
      };
      const ref = { containerId: id, execId: opts.execId as string };
      using _raw = terminal && !opts.detach ? rawTerminal() : undefined;
      // Detached, its stdio goes nowhere: no client would read the FIFOs.
      const fifos = opts.detach
        ? undefined
        : await openStdio(opts.execId, { terminal, fifoDir: opts.fifoDir });
      const client = conn.client(Tasks);
      try {
        await client.exec({
          ...ref,
          ...fifos?.paths ?? { ...NULL_IO, terminal },
          spec: create(AnySchema, {
            typeUrl: PROCESS_TYPE_URL,
            value: new TextEncoder().encode(processJSON(process)),
          }),
        }, { signal: conn.signal });
      } catch (err) {
        await fifos?.[Symbol.asyncDispose]();
        throw err;
      }
      let status: number | undefined;
      try {
        status = await superviseProcess(conn, ref, fifos, {
          start: true,
          detach: opts.detach,
          terminal,
        });
      } finally {
        if (!opts.detach) {
          await deleteProcess(conn, ref, false).catch(() => {});
        }
      }
      if (status) throw new ExitError(status);
    });

  tasks.command("list").alias("ls")
    .description("list tasks")
    .usage("[command options] [flags]")
    .option("-q, --quiet", "print only the task id")
    .action(async (opts) => {
      const conn = connect();
      const { tasks: list } = await conn.client(Tasks).list({}, {
        signal: conn.signal,
      });
      if (opts.quiet) {
        print(list.map((t) => `${t.id}\n`).join(""));
        return;
      }
      let text = "TASK\tPID\tSTATUS\t\n";
      for (const t of list) text += `${t.id}\t${t.pid}\t${Status[t.status]}\n`;
      print(
        tabwrite(text, { minwidth: 4, tabwidth: 8, padding: 4, padchar: " " }),
      );
    });

  tasks.command("kill")
    .description("signal a container (default: SIGTERM)")
    .usage("[command options] [flags] CONTAINER")
    .argument("[id]", "", "")
    .option("-s, --signal <signal>", "signal to send to the container", "")
    .option("--exec-id <id>", "process ID to kill", "")
    .option("-a, --all", "send signal to all processes inside the container")
    .action(async (id: string, opts) => {
      if (!id) throw new Error("container id must be provided");
      if (opts.all && opts.execId) {
        throw new Error("specify an exec-id or all; not both");
      }
      const conn = connect();
      const container = await getContainer(conn, id);
      const signal = parseSignal(
        opts.signal || (container.labels[STOP_SIGNAL_LABEL] ?? "SIGTERM"),
      );
      await loadTask(conn, id);
      await conn.client(Tasks).kill({
        containerId: id,
        execId: opts.execId,
        signal,
        all: Boolean(opts.all),
      }, { signal: conn.signal });
    });

  for (
    const [name, description, call] of [
      ["pause", "pause an existing container", "pause"],
      ["resume", "resume a paused container", "resume"],
    ] as const
  ) {
    tasks.command(name)
      .description(description)
      .usage("CONTAINER")
      .argument("[id]", "", "")
      .action(async (id: string) => {
        const conn = connect();
        await loadTask(conn, id);
        await conn.client(Tasks)[call]({ containerId: id }, {
          signal: conn.signal,
        });
      });
  }

  tasks.command("ps")
    .description("list processes for container")
    .usage("CONTAINER")
    .argument("[id]", "", "")
    .action(async (id: string) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      await loadTask(conn, id);
      const { processes } = await conn.client(Tasks).listPids({
        containerId: id,
      }, { signal: conn.signal });
      let text = "PID\tINFO\n";
      for (const p of processes) text += `${p.pid}\t${processInfo(p.info)}\n`;
      print(tabwrite(text, { minwidth: 1, tabwidth: 8, padding: 4 }));
    });

  tasks.command("start")
    .description("start a container that has been created")
    .usage("[command options] CONTAINER")
    .argument("[id]", "", "")
    .option("--null-io", "send all IO to /dev/null")
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .option("--pid-file <path>", "file path to write the task's pid")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution",
    )
    .action(async (id: string, opts) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      const container = await getContainer(conn, id);
      const status = await runTask(conn, container, {
        terminal: Boolean(specOf(container).process?.terminal),
        detach: opts.detach,
        nullIO: opts.nullIo,
        fifoDir: opts.fifoDir,
        pidFile: opts.pidFile,
      });
      if (status) throw new ExitError(status);
    });

  tasks.command("metrics").alias("metric")
    .description(
      "get a single data point of metrics for a task with the built-in Linux runtime",
    )
    .usage("[command options] CONTAINER")
    .argument("[id]", "", "")
    .option("--format <format>", '"table" or "json"', "table")
    .action(async (id: string, opts) => {
      const conn = connect();
      await loadTask(conn, id);
      const { metrics } = await conn.client(Tasks).metrics({
        filters: [`id==${id}`],
      }, { signal: conn.signal });
      if (metrics.length === 0) throw new Error("no metrics received");
      const metric = metrics[0];
      const decoded = decodeMetrics(metric.data);
      if (opts.format === "table") print(metricsTable(metric, decoded));
      else if (opts.format === "json") print(metricsJSON(decoded) + "\n");
      else throw new Error("format must be table or json");
    });
}
