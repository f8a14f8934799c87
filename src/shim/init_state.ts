/**
 * What containerd's shim refuses to do to a container in each state of its
 * init process, in containerd's words: a client sees the same error for a
 * pause of a paused task, an exec in a stopped one, a delete of a running
 * one and so on, before runc is asked (runc's own refusals differ, and an exec in a paused container
 * would first be accepted and only fail at its start).
 *
 * @module
 */
import { Status } from "../gen/containerd/types/task/task_pb.ts";

/** Operations on a container that depend on its init process's state. */
export type InitOperation =
  | "start"
  | "delete"
  | "pause"
  | "resume"
  | "exec"
  | "update";

type InitState = "created" | "running" | "paused" | "stopped";

const REFUSALS: Record<InitOperation, Partial<Record<InitState, string>>> = {
  start: {
    running: "cannot start a running process",
    paused: "cannot start a paused process",
    stopped: "cannot start a stopped process",
  },
  delete: {
    running: "cannot delete a running process",
    paused: "cannot delete a paused process",
  },
  pause: {
    created: "cannot pause task in created state",
    paused: "cannot pause a paused container",
    stopped: "cannot pause a stopped container",
  },
  resume: {
    created: "cannot resume task in created state",
    running: "cannot resume a running process",
    stopped: "cannot resume a stopped container",
  },
  exec: {
    paused: "cannot exec in a paused state",
    stopped: "cannot exec in a stopped state",
  },
  update: { stopped: "cannot update a stopped container" },
};

function stateOf(status: Status): InitState | undefined {
  switch (status) {
    case Status.CREATED:
      return "created";
    case Status.RUNNING:
      return "running";
    case Status.PAUSING:
    case Status.PAUSED:
      return "paused";
    case Status.STOPPED:
      return "stopped";
    default:
      return undefined;
  }
}

/**
 * Why `operation` is refused while the init process has `status`, in
 * containerd's words (its shim answers these with code Unknown), or
 * undefined when it is allowed.
 */
export function initRefusal(
  operation: InitOperation,
  status: Status,
): string | undefined {
  const state = stateOf(status);
  return state && REFUSALS[operation][state];
}
