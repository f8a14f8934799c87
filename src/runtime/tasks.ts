/**
 * Tasks: running containers, each supervised by its own shim process that
 * the daemon talks to over ttrpc with containerd's runtime v2 task API.
 * The daemon keeps no process state of its own: everything is in the shim
 * and the bundle directory (`STATE/io.containerd.runtime.v2.task/NS/ID`),
 * so tasks outlive the daemon and are found again on start.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import {
  CloseIORequestSchema,
  CreateTaskRequestSchema,
  CreateTaskResponseSchema,
  DeleteRequestSchema,
  DeleteResponseSchema,
  ExecProcessRequestSchema,
  KillRequestSchema,
  PauseRequestSchema,
  PidsRequestSchema,
  PidsResponseSchema,
  ResizePtyRequestSchema,
  ResumeRequestSchema,
  ShutdownRequestSchema,
  StartRequestSchema,
  StartResponseSchema,
  StateRequestSchema,
  StateResponseSchema,
  StatsRequestSchema,
  StatsResponseSchema,
  UpdateTaskRequestSchema,
  WaitRequestSchema,
  WaitResponseSchema,
} from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { EmptySchema, timestampNow } from "@bufbuild/protobuf/wkt";
import {
  TaskDeleteSchema,
  TaskExitSchema,
} from "../gen/containerd/events/task_pb.ts";
import type { Exchange } from "../events/mod.ts";
import type { Mount as MountMessage } from "../gen/containerd/types/mount_pb.ts";
import { unmountRecursive } from "../mount/mod.ts";
import { OptionsSchema } from "../gen/containerd/runc/options/oci_pb.ts";
import {
  CreateOptionsSchema,
  RuncOptionsSchema,
} from "../gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import { type CallOptions, TtrpcClient } from "../ttrpc/mod.ts";
import {
  alreadyExists,
  invalidArgument,
  notFound,
  validateIdentifier,
} from "../types/mod.ts";
import {
  deleteShim,
  findShimBinary,
  readShimLog,
  type ShimCommand,
  startShim,
  type StartShimOptions,
} from "./shim_process.ts";

/** The ttrpc service shims serve. */
const TASK_SERVICE = "containerd.task.v2.Task";

/** Where bundles live under the state directory, as in containerd. */
export const TASK_DIR = "io.containerd.runtime.v2.task";

/**
 * The deprecated v1 runtime's name: old clients (Docker 20.10) still ask for
 * it; berth runs it with its default runtime's shim, as a v2 runtime.
 */
export const V1_RUNTIME = "io.containerd.runtime.v1.linux";

/** The spec type containers carry. */
const SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/** What creating a task needs. */
export interface CreateTaskOptions {
  /** The container's OCI spec (JSON) as stored on the container. */
  spec: { typeUrl: string; value: Uint8Array };
  /** The container's runtime name (`io.containerd.runc.v2`). */
  runtime: string;
  /** The root filesystem mounts. */
  rootfs: MountMessage[];
  /** stdio FIFO paths (empty for none). */
  stdin: string;
  /** stdout path. */
  stdout: string;
  /** stderr path. */
  stderr: string;
  /** Whether the process has a terminal. */
  terminal: boolean;
  /** Task options (`containerd.runc.v1.Options`), as the client sent. */
  options?: { typeUrl: string; value: Uint8Array };
  /** The container's runtime options, under the task options. */
  runtimeOptions?: { typeUrl: string; value: Uint8Array };
}

/** What starting an exec'd process needs. */
export interface ExecOptions {
  /** The process spec (`types.containerd.io/.../Process`, JSON). */
  spec: { typeUrl: string; value: Uint8Array };
  /** stdin FIFO path ("" for none). */
  stdin: string;
  /** stdout FIFO path. */
  stdout: string;
  /** stderr FIFO path. */
  stderr: string;
  /** Whether the process has a terminal. */
  terminal: boolean;
}

interface Task {
  namespace: string;
  id: string;
  bundle: string;
  client: TtrpcClient;
  pid: number;
  /** How its shim was started, for the clean-up after it died. */
  shim: StartShimOptions;
  /** Set when the daemon itself lets go of the shim. */
  released?: boolean;
}

/** How containers of one runtime name are run. */
export interface Runtime {
  /** The shim to start. */
  shim: ShimCommand;
  /** The OCI runtime binary the shim runs ("" for the shim's default). */
  runcBinary: string;
  /** The OCI runtime's state root (namespaces are directories below). */
  runcRoot: string;
}

/** Options for {@linkcode TaskManager}. */
export interface TaskManagerOptions {
  /** The daemon's state directory. */
  state: string;
  /** Runtimes by name. */
  runtimes: Record<string, Runtime>;
  /** The runtime for names not in `runtimes`. */
  defaultRuntime: string;
  /** The daemon's socket, handed to shims. */
  daemonAddress: string;
  /** The daemon's ttrpc socket, where shims forward their events. */
  ttrpcAddress: string;
  /** Where the runtime's own events go (a dead shim's task's end). */
  events?: Pick<Exchange, "publish">;
}

/** How long a shim found at start-up has to answer. */
const RECONNECT_TIMEOUT_MS = 5_000;

/** The file in a bundle naming its runtime, for clean-up after a crash. */
const RUNTIME_FILE = "runtime";

/** The daemon's tasks. */
export class TaskManager {
  readonly #options: TaskManagerOptions;
  readonly #tasks = new Map<string, Task>();

  /** Creates the manager. */
  constructor(options: TaskManagerOptions) {
    this.#options = options;
  }

  #key(namespace: string, id: string) {
    return `${namespace}/${id}`;
  }

  #task(namespace: string, id: string): Task {
    const task = this.#tasks.get(this.#key(namespace, id));
    if (!task) throw notFound(`task ${id}`);
    return task;
  }

  /**
   * The runtime `name` names: a configured one, else, as containerd does,
   * the shim binary `containerd-shim-X-vN` on PATH for `io.containerd.X.vN`
   * (running the default runtime's OCI runtime). "" is the default.
   */
  #runtime(name: string): Runtime {
    const fallback = this.#options.runtimes[this.#options.defaultRuntime];
    if (!name || name === V1_RUNTIME && !this.#options.runtimes[name]) {
      return fallback;
    }
    const configured = this.#options.runtimes[name];
    if (configured) return configured;
    const binary = findShimBinary(name);
    if (!binary) {
      throw notFound(
        `runtime "${name}": not configured, and no shim binary for it on PATH`,
      );
    }
    return { ...fallback, shim: { command: binary, logFifo: true } };
  }

  /** Like {@linkcode #runtime}, but the default for names now unknown. */
  #runtimeOrDefault(name: string): Runtime {
    try {
      return this.#runtime(name);
    } catch {
      return this.#runtime("");
    }
  }

  #shimOptions(
    runtime: Runtime,
    bundle: string,
    namespace: string,
    id: string,
  ): StartShimOptions {
    return {
      shim: runtime.shim,
      bundle,
      namespace,
      id,
      daemonAddress: this.#options.daemonAddress,
      ttrpcAddress: this.#options.ttrpcAddress,
    };
  }

  #call<I extends DescMessage, O extends DescMessage>(
    task: Task,
    method: string,
    input: I,
    request: MessageInitShape<I>,
    output: O,
    options?: CallOptions,
  ): Promise<MessageShape<O>> {
    return task.client.call(
      TASK_SERVICE,
      method,
      input,
      create(input, request),
      output,
      options,
    );
  }

  /** Creates a task for a container: bundle, shim, `Task.Create`. */
  async create(
    namespace: string,
    id: string,
    options: CreateTaskOptions,
  ): Promise<number> {
    validateIdentifier(id);
    if (this.#tasks.has(this.#key(namespace, id))) {
      throw alreadyExists(`task ${id}`);
    }
    if (options.spec.typeUrl !== SPEC_TYPE) {
      throw invalidArgument(`unsupported spec type ${options.spec.typeUrl}`);
    }
    const runtime = this.#runtime(options.runtime);
    const bundle = join(this.#options.state, TASK_DIR, namespace, id);
    await fs.mkdir(join(bundle, "rootfs"), { recursive: true, mode: 0o711 });
    await Deno.writeFile(join(bundle, "config.json"), options.spec.value);
    await Deno.writeTextFile(join(bundle, RUNTIME_FILE), options.runtime);
    const shimOptions = this.#shimOptions(runtime, bundle, namespace, id);
    let client: TtrpcClient | undefined;
    try {
      client = await TtrpcClient.connect(await startShim(shimOptions));
      const task: Task = {
        namespace,
        id,
        bundle,
        client,
        pid: 0,
        shim: shimOptions,
      };
      const created = await this.#call(
        task,
        "Create",
        CreateTaskRequestSchema,
        {
          id,
          bundle,
          rootfs: options.rootfs,
          stdin: options.stdin,
          stdout: options.stdout,
          stderr: options.stderr,
          terminal: options.terminal,
          options: runcOptions(runtime, [
            options.runtimeOptions,
            options.options,
          ]),
        },
        CreateTaskResponseSchema,
      );
      task.pid = created.pid;
      this.#track(task);
      return created.pid;
    } catch (err) {
      // Nothing half-made stays: no shim, no container, no bundle.
      await this.#cleanUpDeadShim(shimOptions, client);
      throw err;
    }
  }

  /** Starts the task's init process (or exec `execId`); returns its pid. */
  async start(namespace: string, id: string, execId = ""): Promise<number> {
    const task = this.#task(namespace, id);
    const started = await this.#call(task, "Start", StartRequestSchema, {
      id,
      execId,
    }, StartResponseSchema);
    return started.pid;
  }

  /** Waits for the process to exit; its status and time. */
  async wait(namespace: string, id: string, execId = "") {
    const task = this.#task(namespace, id);
    const done = await this.#call(task, "Wait", WaitRequestSchema, {
      id,
      execId,
    }, WaitResponseSchema);
    return { exitStatus: done.exitStatus, exitedAt: done.exitedAt };
  }

  /** The process's state. */
  async state(namespace: string, id: string, execId = "") {
    const task = this.#task(namespace, id);
    return await this.#call(
      task,
      "State",
      StateRequestSchema,
      { id, execId },
      StateResponseSchema,
    );
  }

  /** Every task of `namespace`. */
  async list(namespace: string) {
    const tasks = [...this.#tasks.values()].filter((t) =>
      t.namespace === namespace
    );
    return await Promise.all(tasks.map((t) => this.state(namespace, t.id)));
  }

  /** Signals the process (or every process of the task with `all`). */
  async kill(
    namespace: string,
    id: string,
    execId: string,
    signal: number,
    all: boolean,
  ) {
    const task = this.#task(namespace, id);
    await this.#call(task, "Kill", KillRequestSchema, {
      id,
      execId,
      signal,
      all,
    }, EmptySchema);
  }

  /** Closes the process's stdin (the client has no more to send). */
  async closeIO(namespace: string, id: string, execId: string, stdin: boolean) {
    await this.#call(
      this.#task(namespace, id),
      "CloseIO",
      CloseIORequestSchema,
      { id, execId, stdin },
      EmptySchema,
    );
  }

  /** The task's processes. */
  async pids(namespace: string, id: string) {
    const task = this.#task(namespace, id);
    return (await this.#call(
      task,
      "Pids",
      PidsRequestSchema,
      { id },
      PidsResponseSchema,
    )).processes;
  }

  /** Adds process `execId` to the task; it runs at its Start. */
  async exec(
    namespace: string,
    id: string,
    execId: string,
    options: ExecOptions,
  ): Promise<void> {
    await this.#call(
      this.#task(namespace, id),
      "Exec",
      ExecProcessRequestSchema,
      { id, execId, ...options },
      EmptySchema,
    );
  }

  /** Deletes exited process `execId`; its pid and exit. */
  async deleteProcess(namespace: string, id: string, execId: string) {
    const deleted = await this.#call(
      this.#task(namespace, id),
      "Delete",
      DeleteRequestSchema,
      { id, execId },
      DeleteResponseSchema,
    );
    return {
      pid: deleted.pid,
      exitStatus: deleted.exitStatus,
      exitedAt: deleted.exitedAt,
    };
  }

  /** Sets the size of the process's terminal. */
  async resizePty(
    namespace: string,
    id: string,
    execId: string,
    width: number,
    height: number,
  ): Promise<void> {
    await this.#call(
      this.#task(namespace, id),
      "ResizePty",
      ResizePtyRequestSchema,
      { id, execId, width, height },
      EmptySchema,
    );
  }

  /** Applies new resources (`LinuxResources` JSON) to the task. */
  async update(
    namespace: string,
    id: string,
    resources: { typeUrl: string; value: Uint8Array },
    annotations: Record<string, string>,
  ): Promise<void> {
    await this.#call(
      this.#task(namespace, id),
      "Update",
      UpdateTaskRequestSchema,
      { id, resources, annotations },
      EmptySchema,
    );
  }

  /** The task's cgroup metrics, packed as the shim reports them. */
  async stats(namespace: string, id: string) {
    return (await this.#call(
      this.#task(namespace, id),
      "Stats",
      StatsRequestSchema,
      { id },
      StatsResponseSchema,
    )).stats;
  }

  /** The ids of `namespace`'s tasks. */
  ids(namespace: string): string[] {
    return [...this.#tasks.values()].filter((t) => t.namespace === namespace)
      .map((t) => t.id);
  }

  /** Freezes the task. */
  async pause(namespace: string, id: string) {
    await this.#call(this.#task(namespace, id), "Pause", PauseRequestSchema, {
      id,
    }, EmptySchema);
  }

  /** Thaws the task. */
  async resume(namespace: string, id: string) {
    await this.#call(this.#task(namespace, id), "Resume", ResumeRequestSchema, {
      id,
    }, EmptySchema);
  }

  /** Deletes a stopped task: the shim's `Delete`, shutdown, bundle gone. */
  async delete(namespace: string, id: string) {
    const task = this.#task(namespace, id);
    const deleted = await this.#call(task, "Delete", DeleteRequestSchema, {
      id,
    }, DeleteResponseSchema);
    // From here the shim's going is expected.
    task.released = true;
    await this.#call(
      task,
      "Shutdown",
      ShutdownRequestSchema,
      { id },
      EmptySchema,
    ).catch(() => {});
    await task.client.close();
    this.#tasks.delete(this.#key(namespace, id));
    await removeBundle(task.bundle);
    return {
      pid: deleted.pid,
      exitStatus: deleted.exitStatus,
      exitedAt: deleted.exitedAt,
    };
  }

  /**
   * Finds the shims of a previous daemon (their bundles hold an `address`
   * file) and connects to them again. A bundle whose shim is gone, or
   * answers for no task, is cleaned up as containerd does after a dead
   * shim: runc force-deletes the container (killing what still runs), the
   * rootfs is unmounted and the bundle removed. The container record stays,
   * so its task can be started again.
   */
  async reconnect(): Promise<void> {
    const root = join(this.#options.state, TASK_DIR);
    for await (const namespace of readDirOrEmpty(root)) {
      for await (const id of readDirOrEmpty(join(root, namespace))) {
        const bundle = join(root, namespace, id);
        // The bundle names its runtime: its shim's log, and its clean-up.
        const name = await Deno.readTextFile(join(bundle, RUNTIME_FILE))
          .catch(() => this.#options.defaultRuntime);
        const shim = this.#shimOptions(
          this.#runtimeOrDefault(name),
          bundle,
          namespace,
          id,
        );
        let client: TtrpcClient | undefined;
        try {
          const address = (await Deno.readTextFile(join(bundle, "address")))
            .trim();
          client = await TtrpcClient.connect(
            address.replace(/^unix:\/\//, ""),
          );
          const task: Task = { namespace, id, bundle, client, pid: 0, shim };
          // A shim that hangs must not hold up the daemon's start.
          const state = await this.#call(
            task,
            "State",
            StateRequestSchema,
            {
              id,
            },
            StateResponseSchema,
            { timeoutMs: RECONNECT_TIMEOUT_MS },
          );
          task.pid = state.pid;
          this.#track(task);
          readShimLog(shim);
        } catch {
          await this.#cleanUpDeadShim(shim, client);
        }
      }
    }
  }

  /**
   * Adds `task`, and watches its shim: a shim whose connection ends without
   * the daemon letting go of it has died, and its task is cleaned up as
   * containerd does — runc's container, mount and bundle removed, the exit
   * (status 255, unknown) and deletion published.
   */
  #track(task: Task): void {
    this.#tasks.set(this.#key(task.namespace, task.id), task);
    task.client.ended.then(async () => {
      if (task.released) return;
      const key = this.#key(task.namespace, task.id);
      if (this.#tasks.get(key) === task) this.#tasks.delete(key);
      await this.#cleanUpDeadShim(task.shim, undefined);
      const exitedAt = timestampNow();
      const ids = { containerId: task.id, id: task.id, pid: task.pid };
      this.#publish(task.namespace, "/tasks/exit", TaskExitSchema, {
        ...ids,
        exitStatus: 255,
        exitedAt,
      });
      this.#publish(task.namespace, "/tasks/delete", TaskDeleteSchema, {
        ...ids,
        exitStatus: 255,
        exitedAt,
      });
    }).catch(() => {});
  }

  #publish<Desc extends DescMessage>(
    namespace: string,
    topic: string,
    schema: Desc,
    message: MessageInitShape<Desc>,
  ): void {
    this.#options.events?.publish(namespace, topic, {
      typeUrl: schema.typeName,
      value: toBinary(schema, create(schema, message)),
    });
  }

  /**
   * Undoes what a shim that died (or never got its task) left: the shim
   * itself if it still listens, runc's container, the rootfs mount and the
   * bundle.
   */
  async #cleanUpDeadShim(
    shim: StartShimOptions,
    client: TtrpcClient | undefined,
  ): Promise<void> {
    if (client) {
      await client.call(
        TASK_SERVICE,
        "Shutdown",
        ShutdownRequestSchema,
        create(ShutdownRequestSchema, { id: shim.id, now: true }),
        EmptySchema,
      ).catch(() => {});
      await client.close();
    }
    await deleteShim(shim);
    await removeBundle(shim.bundle);
  }

  /** Disconnects from every shim (they keep running). */
  async close(): Promise<void> {
    for (const task of this.#tasks.values()) {
      task.released = true;
      await task.client.close();
    }
    this.#tasks.clear();
  }
}

/**
 * Removes a bundle directory, unmounting what is still mounted in it first:
 * a recursive delete must never reach into the container's snapshot.
 */
async function removeBundle(bundle: string): Promise<void> {
  await unmountRecursive(bundle, { detach: true });
  await fs.rm(bundle, { recursive: true, force: true });
}

/** The bare type name of an `Any` type URL (`type.googleapis.com/X` is X). */
function typeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/**
 * The runc options a shim gets: the container's runtime options overlaid
 * with the task's — runc's own, or the deprecated v1 runtime's
 * `RuncOptions` and `CreateOptions` in their terms — with the runtime's
 * binary and state root where the client named none.
 */
function runcOptions(
  runtime: Runtime,
  fromClient: ({ typeUrl: string; value: Uint8Array } | undefined)[],
) {
  const options = create(OptionsSchema);
  for (const any of fromClient) {
    if (!any) continue;
    switch (typeName(any.typeUrl)) {
      case OptionsSchema.typeName: {
        const given = fromBinary(OptionsSchema, any.value);
        // Only what the task sets overrides the container's.
        for (const [key, value] of Object.entries(given)) {
          if (key !== "$typeName" && value) {
            (options as Record<string, unknown>)[key] = value;
          }
        }
        break;
      }
      case RuncOptionsSchema.typeName: {
        const v1 = fromBinary(RuncOptionsSchema, any.value);
        options.binaryName ||= v1.runtime;
        options.root ||= v1.runtimeRoot;
        options.criuPath ||= v1.criuPath;
        options.systemdCgroup ||= v1.systemdCgroup;
        break;
      }
      case CreateOptionsSchema.typeName: {
        const v1 = fromBinary(CreateOptionsSchema, any.value);
        options.noPivotRoot ||= v1.noPivotRoot;
        options.noNewKeyring ||= v1.noNewKeyring;
        options.shimCgroup ||= v1.shimCgroup;
        options.ioUid ||= v1.ioUid;
        options.ioGid ||= v1.ioGid;
        break;
      }
    }
  }
  options.binaryName ||= runtime.runcBinary;
  options.root ||= runtime.runcRoot;
  return {
    typeUrl: OptionsSchema.typeName,
    value: toBinary(OptionsSchema, options),
  };
}

async function* readDirOrEmpty(dir: string): AsyncGenerator<string> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) yield entry.name;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
