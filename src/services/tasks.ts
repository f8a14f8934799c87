/**
 * `containerd.services.tasks.v1.Tasks`: running containers through their
 * shims. The spec, runtime and root filesystem come from the container
 * record (and its snapshot when the request names no mounts). The
 * `/tasks/*` events come from the shims, as in containerd.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { StateResponse } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import {
  CreateTaskResponseSchema,
  type DeleteProcessRequest,
  DeleteResponseSchema,
  GetResponseSchema,
  ListPidsResponseSchema,
  ListTasksResponseSchema,
  MetricsResponseSchema,
  StartResponseSchema,
  Tasks,
  WaitResponseSchema,
} from "../gen/containerd/services/tasks/v1/tasks_pb.ts";
import {
  type Process,
  ProcessSchema,
} from "../gen/containerd/types/task/task_pb.ts";
import type {
  ContainerStore,
  NamespacedSnapshotStore,
} from "../metadata/mod.ts";
import type { TaskManager } from "../runtime/mod.ts";
import { MetricSchema } from "../gen/containerd/types/metrics_pb.ts";
import {
  failedPrecondition,
  invalidArgument,
  unimplemented,
} from "../types/mod.ts";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { toMountMessages } from "./_convert.ts";
import { requireNamespace } from "./_rpc.ts";

function toProcess(containerId: string, state: StateResponse): Process {
  return create(ProcessSchema, {
    containerId,
    id: state.execId || containerId,
    pid: state.pid,
    status: state.status,
    stdin: state.stdin,
    stdout: state.stdout,
    stderr: state.stderr,
    terminal: state.terminal,
    exitStatus: state.exitStatus,
    exitedAt: state.exitedAt,
  });
}

/** What the service asks of the task manager. */
export type TaskRuntime = Pick<
  TaskManager,
  | "create"
  | "start"
  | "delete"
  | "deleteProcess"
  | "state"
  | "list"
  | "kill"
  | "exec"
  | "resizePty"
  | "closeIO"
  | "pause"
  | "resume"
  | "pids"
  | "update"
  | "ids"
  | "stats"
  | "wait"
>;

/** Options for {@linkcode tasksService}. */
export interface TasksServiceOptions {
  /** The tasks. */
  tasks: TaskRuntime;
  /** Container records (spec, runtime, snapshot). */
  containers: Pick<ContainerStore, "get" | "mustExist" | "list">;
  /** Snapshots, for the root filesystem mounts. */
  snapshots: Pick<NamespacedSnapshotStore, "mounts">;
  /**
   * Runs before a container's task is made (its network attached again);
   * a failure fails the create.
   */
  beforeCreate?: (namespace: string, containerId: string) => Promise<void>;
  /** Runs after a container's task is deleted (its network parked). */
  afterDelete?: (namespace: string, containerId: string) => Promise<void>;
}

/** The Tasks service. */
export function tasksService(
  { tasks, containers, snapshots, beforeCreate, afterDelete }:
    TasksServiceOptions,
): ServiceImpl<typeof Tasks> {
  /**
   * The request's namespace, once its container is known to exist: as in
   * containerd, a task call for a missing container is that container's
   * NotFound, not its task's.
   */
  const containerNamespace = (ctx: HandlerContext, containerId: string) => {
    const namespace = requireNamespace(ctx);
    containers.mustExist(namespace, containerId);
    return namespace;
  };
  return {
    async create(req, ctx) {
      const namespace = requireNamespace(ctx);
      const container = containers.get(namespace, req.containerId);
      if (!container.spec) {
        throw failedPrecondition(`container ${req.containerId} has no spec`);
      }
      let rootfs = req.rootfs;
      if (rootfs.length === 0 && container.snapshotKey) {
        rootfs = toMountMessages(
          await snapshots.mounts(
            namespace,
            container.snapshotter,
            container.snapshotKey,
          ),
        );
      }
      await beforeCreate?.(namespace, req.containerId);
      const pid = await tasks.create(namespace, req.containerId, {
        spec: container.spec,
        runtime: container.runtime.name,
        labels: container.labels,
        rootfs,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
        options: req.options,
        runtimeOptions: container.runtime.options,
      });
      return create(CreateTaskResponseSchema, {
        containerId: req.containerId,
        pid,
      });
    },
    async start(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      const pid = await tasks.start(namespace, req.containerId, req.execId);
      return create(StartResponseSchema, { pid });
    },
    async delete(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      const deleted = await tasks.delete(namespace, req.containerId);
      await afterDelete?.(namespace, req.containerId);
      return create(DeleteResponseSchema, { id: req.containerId, ...deleted });
    },
    async deleteProcess(req: DeleteProcessRequest, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      if (!req.execId) {
        throw invalidArgument("an exec id is required to delete a process");
      }
      const deleted = await tasks.deleteProcess(
        namespace,
        req.containerId,
        req.execId,
      );
      return create(DeleteResponseSchema, { id: req.execId, ...deleted });
    },
    async get(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      const state = await tasks.state(namespace, req.containerId, req.execId);
      return create(GetResponseSchema, {
        process: toProcess(req.containerId, state),
      });
    },
    async list(_req, ctx) {
      const namespace = requireNamespace(ctx);
      const states = await tasks.list(namespace);
      return create(ListTasksResponseSchema, {
        tasks: states.map((state) => toProcess(state.id, state)),
      });
    },
    async kill(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      await tasks.kill(
        namespace,
        req.containerId,
        req.execId,
        req.signal,
        req.all,
      );
      return create(EmptySchema);
    },
    async exec(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      if (!req.execId) throw invalidArgument("exec id must not be empty");
      if (!req.spec) throw invalidArgument(`exec ${req.execId} has no spec`);
      await tasks.exec(namespace, req.containerId, req.execId, {
        spec: req.spec,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
      });
      return create(EmptySchema);
    },
    async resizePty(req, ctx) {
      await tasks.resizePty(
        containerNamespace(ctx, req.containerId),
        req.containerId,
        req.execId,
        req.width,
        req.height,
      );
      return create(EmptySchema);
    },
    async closeIO(req, ctx) {
      await tasks.closeIO(
        containerNamespace(ctx, req.containerId),
        req.containerId,
        req.execId,
        req.stdin,
      );
      return create(EmptySchema);
    },
    async pause(req, ctx) {
      await tasks.pause(
        containerNamespace(ctx, req.containerId),
        req.containerId,
      );
      return create(EmptySchema);
    },
    async resume(req, ctx) {
      await tasks.resume(
        containerNamespace(ctx, req.containerId),
        req.containerId,
      );
      return create(EmptySchema);
    },
    async listPids(req, ctx) {
      const processes = await tasks.pids(
        containerNamespace(ctx, req.containerId),
        req.containerId,
      );
      return create(ListPidsResponseSchema, { processes });
    },
    checkpoint() {
      throw unimplemented("checkpoint");
    },
    async update(req, ctx) {
      if (!req.resources) {
        throw invalidArgument(
          `update of task ${req.containerId}: no resources`,
        );
      }
      await tasks.update(
        containerNamespace(ctx, req.containerId),
        req.containerId,
        req.resources,
        req.annotations,
      );
      return create(EmptySchema);
    },
    async metrics(req, ctx) {
      const namespace = requireNamespace(ctx);
      // The filters select containers, as containerd's do.
      const ids = new Set(
        containers.list(namespace, req.filters).map((c) => c.id),
      );
      const metrics = [];
      for (const id of tasks.ids(namespace)) {
        if (!ids.has(id)) continue;
        const data = await tasks.stats(namespace, id).catch(() => undefined);
        if (data) {
          metrics.push(
            create(MetricSchema, { timestamp: timestampNow(), id, data }),
          );
        }
      }
      return create(MetricsResponseSchema, { metrics });
    },
    async wait(req, ctx) {
      const namespace = containerNamespace(ctx, req.containerId);
      const done = await tasks.wait(namespace, req.containerId, req.execId);
      return create(WaitResponseSchema, done);
    },
  };
}

export { Tasks };
