/**
 * What the `tasks` commands share: a container's task and processes
 * loaded and deleted as ctr's client does it, with its error wording.
 *
 * @module
 */
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import {
  type Process,
  Status,
} from "../src/gen/containerd/types/task/task_pb.ts";
import {
  Code,
  errorMessage,
  hasCode,
  isNotFound,
} from "../src/client/errors.ts";
import type { Container } from "../src/client/container.ts";
import type { Connection } from "./_client.ts";

/** A process of a task: the init (`execId` "") or an exec. */
export interface ProcessRef {
  /** The container (and task) id. */
  containerId: string;
  /** The exec id; "" for the init process. */
  execId: string;
}

/** A status as containerd's client names it: `running`, `stopped` … */
export const statusName = (status: Status): string =>
  Status[status].toLowerCase();

/** The container `id`; NotFound as the daemon words it. */
export function getContainer(conn: Connection, id: string): Promise<Container> {
  return conn.api.loadContainer(id);
}

/** A task's process, NotFound worded as ctr's client words it. */
export async function getProcess(
  conn: Connection,
  ref: ProcessRef,
): Promise<Process> {
  try {
    const { process } = await conn.api.service(Tasks).get(ref);
    return process!;
  } catch (err) {
    if (isNotFound(err)) {
      const what = ref.execId ? "process" : "task";
      throw new Error(`no running ${what} found: ${errorMessage(err)}`);
    }
    throw err;
  }
}

/**
 * The container's task (`container.Task`): its init process, or an error
 * naming what is missing.
 */
export async function loadTask(
  conn: Connection,
  id: string,
): Promise<Process> {
  await getContainer(conn, id);
  return await getProcess(conn, { containerId: id, execId: "" });
}

/**
 * Kills the process with SIGKILL (all of a task's processes) and waits
 * for it to exit, as ctr's `WithProcessKill`.
 */
async function killAndWait(conn: Connection, ref: ProcessRef): Promise<void> {
  const tasks = conn.api.service(Tasks);
  const exited = tasks.wait(ref);
  exited.catch(() => {});
  try {
    await tasks.kill({ ...ref, signal: 9, all: true });
  } catch (err) {
    if (hasCode(err, Code.FailedPrecondition)) return;
    if (!isNotFound(err)) throw err;
  }
  await exited;
}

/**
 * Deletes a task or exec process that is not running (ctr checks on the
 * client); returns its exit status.
 */
export async function deleteProcess(
  conn: Connection,
  ref: ProcessRef,
  force: boolean,
): Promise<number> {
  if (force) await killAndWait(conn, ref);
  const tasks = conn.api.service(Tasks);
  if (ref.execId) {
    const { status } = await getProcess(conn, ref);
    if ([Status.RUNNING, Status.PAUSED, Status.PAUSING].includes(status)) {
      throw new Error(
        `current process state: ${
          statusName(status)
        }, process must be stopped before deletion: failed precondition`,
      );
    }
    return (await tasks.deleteProcess(ref)).exitStatus;
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
  return (await tasks.delete({ containerId: ref.containerId })).exitStatus;
}
