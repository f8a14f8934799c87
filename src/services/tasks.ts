/**
 * `containerd.services.tasks.v1.Tasks`: running containers through their
 * shims, with `/tasks/*` events. The spec, runtime and root filesystem come
 * from the container record (and its snapshot when the request names no
 * mounts).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExitSchema,
  TaskStartSchema,
} from "../gen/containerd/events/task_pb.ts";
import type { StateResponse } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import {
  CreateTaskResponseSchema,
  DeleteResponseSchema,
  GetResponseSchema,
  ListPidsResponseSchema,
  ListTasksResponseSchema,
  StartResponseSchema,
  Tasks,
  WaitResponseSchema,
} from "../gen/containerd/services/tasks/v1/tasks_pb.ts";
import {
  type Process,
  ProcessSchema,
} from "../gen/containerd/types/task/task_pb.ts";
import type { Exchange } from "../events/mod.ts";
import type {
  ContainerStore,
  NamespacedSnapshotStore,
} from "../metadata/mod.ts";
import type { TaskManager } from "../runtime/mod.ts";
import { failedPrecondition, unimplemented } from "../types/mod.ts";
import { toMountMessages } from "./_convert.ts";
import { packEvent } from "./_events.ts";
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

/** Options for {@linkcode tasksService}. */
export interface TasksServiceOptions {
  /** The tasks. */
  tasks: TaskManager;
  /** Container records (spec, runtime, snapshot). */
  containers: ContainerStore;
  /** Snapshots, for the root filesystem mounts. */
  snapshots: NamespacedSnapshotStore;
  /** Where `/tasks/*` events go. */
  events: Exchange;
}

/** The Tasks service. */
export function tasksService(
  { tasks, containers, snapshots, events }: TasksServiceOptions,
): ServiceImpl<typeof Tasks> {
  const publish = (
    namespace: string,
    topic: string,
    event: ReturnType<typeof packEvent>,
  ) => events.publish(namespace, topic, event);
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
      const pid = await tasks.create(namespace, req.containerId, {
        spec: container.spec,
        runtime: container.runtime.name,
        rootfs,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
      });
      publish(
        namespace,
        "/tasks/create",
        packEvent(
          TaskCreateSchema,
          create(TaskCreateSchema, {
            containerId: req.containerId,
            rootfs,
            io: {
              stdin: req.stdin,
              stdout: req.stdout,
              stderr: req.stderr,
              terminal: req.terminal,
            },
            pid,
          }),
        ),
      );
      return create(CreateTaskResponseSchema, {
        containerId: req.containerId,
        pid,
      });
    },
    async start(req, ctx) {
      const namespace = requireNamespace(ctx);
      const pid = await tasks.start(namespace, req.containerId, req.execId);
      publish(
        namespace,
        "/tasks/start",
        packEvent(
          TaskStartSchema,
          create(TaskStartSchema, { containerId: req.containerId, pid }),
        ),
      );
      // The exit is reported when it comes, whoever waits for it.
      tasks.wait(namespace, req.containerId, req.execId).then((done) =>
        publish(
          namespace,
          "/tasks/exit",
          packEvent(
            TaskExitSchema,
            create(TaskExitSchema, {
              containerId: req.containerId,
              id: req.execId || req.containerId,
              pid,
              exitStatus: done.exitStatus,
              exitedAt: done.exitedAt,
            }),
          ),
        )
      ).catch(() => {});
      return create(StartResponseSchema, { pid });
    },
    async delete(req, ctx) {
      const namespace = requireNamespace(ctx);
      const deleted = await tasks.delete(namespace, req.containerId);
      publish(
        namespace,
        "/tasks/delete",
        packEvent(
          TaskDeleteSchema,
          create(TaskDeleteSchema, {
            containerId: req.containerId,
            id: req.containerId,
            ...deleted,
          }),
        ),
      );
      return create(DeleteResponseSchema, { id: req.containerId, ...deleted });
    },
    deleteProcess() {
      throw unimplemented("exec processes");
    },
    async get(req, ctx) {
      const namespace = requireNamespace(ctx);
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
      const namespace = requireNamespace(ctx);
      await tasks.kill(
        namespace,
        req.containerId,
        req.execId,
        req.signal,
        req.all,
      );
      return create(EmptySchema);
    },
    exec() {
      throw unimplemented("exec");
    },
    resizePty() {
      throw unimplemented("terminals");
    },
    async closeIO(req, ctx) {
      await tasks.closeIO(
        requireNamespace(ctx),
        req.containerId,
        req.execId,
        req.stdin,
      );
      return create(EmptySchema);
    },
    async pause(req, ctx) {
      await tasks.pause(requireNamespace(ctx), req.containerId);
      return create(EmptySchema);
    },
    async resume(req, ctx) {
      await tasks.resume(requireNamespace(ctx), req.containerId);
      return create(EmptySchema);
    },
    async listPids(req, ctx) {
      const processes = await tasks.pids(
        requireNamespace(ctx),
        req.containerId,
      );
      return create(ListPidsResponseSchema, { processes });
    },
    checkpoint() {
      throw unimplemented("checkpoint");
    },
    update() {
      throw unimplemented("updating resources");
    },
    metrics() {
      throw unimplemented("metrics");
    },
    async wait(req, ctx) {
      const namespace = requireNamespace(ctx);
      const done = await tasks.wait(namespace, req.containerId, req.execId);
      return create(WaitResponseSchema, done);
    },
  };
}

export { Tasks };
