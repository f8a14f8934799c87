/**
 * Tasks: running containers, supervised by shim processes that the daemon
 * talks to over ttrpc with containerd's runtime v2 task API. One shim may
 * serve a group of tasks (see `shims.ts`). The daemon keeps no process
 * state of its own: everything is in the shims and the bundle directories
 * (`bundle.ts`), so tasks outlive the daemon and are found again on start.
 * (It only remembers, in memory, what it saw of exec'd processes that have
 * exited, to answer for them without a round trip: `_exited_execs.ts`.)
 *
 * @module
 */
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  TaskDeleteSchema,
  TaskExitSchema,
} from "../gen/containerd/events/task_pb.ts";
import type { Exchange } from "../events/mod.ts";
import type { Mount as MountMessage } from "../gen/containerd/types/mount_pb.ts";
import { OptionsSchema } from "../gen/containerd/runc/options/oci_pb.ts";
import {
  CreateOptionsSchema,
  RuncOptionsSchema,
} from "../gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import {
  alreadyExists,
  BerthError,
  Code,
  identifierProblem,
  invalidArgument,
  notFound,
  validateIdentifier,
} from "../types/mod.ts";
import {
  type Bundle,
  bundleOf,
  emptyBundleTrash,
  listBundles,
  readBundleRuntime,
  readShimAddress,
  removeBundle,
  writeBundle,
  writeShimAddress,
} from "./bundle.ts";
import { type Shim, ShimManager } from "./shims.ts";
import { ExitedExecs } from "./_exited_execs.ts";
import {
  deleteShim,
  findShimBinary,
  readShimLog,
  type ShimCommand,
} from "./shim_process.ts";
import { log } from "../log/mod.ts";
import { realtimeNanos } from "../sys/clock.ts";
import { NanoDate, secondsAndNanos } from "../types/time.ts";

export { TASK_DIR } from "./bundle.ts";

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
  /** The container's labels (a group label names its shim's group). */
  labels?: Record<string, string>;
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
  bundle: Bundle;
  shim: Shim;
  pid: number;
  /** Its runtime: how its shim is run, for the clean-up after it died. */
  runtime: Runtime;
  /** Its exec'd processes, as far as they were seen to run and exit. */
  execs: ExitedExecs;
}

/**
 * Which containers share a shim of berth's when they name no group:
 * every container of a namespace, or none (a shim per container).
 */
export type ShimGrouping = "namespace" | "container";

/**
 * The label (on the container) or annotation (in its spec) naming the
 * group whose shim runs it; containerd's runc shim groups by the
 * annotation, or by the pod's sandbox id.
 */
export const GROUP_LABEL = "io.containerd.runc.v2.group";

/** The annotation CRI puts on a pod's containers. */
const SANDBOX_ANNOTATION = "io.kubernetes.cri.sandbox-id";

/** How containers of one runtime name are run. */
export interface Runtime {
  /** The shim to start. */
  shim: ShimCommand;
  /** The OCI runtime binary the shim runs ("" for the shim's default). */
  runcBinary: string;
  /** The OCI runtime's state root (namespaces are directories below). */
  runcRoot: string;
  /** Which containers naming no group share a shim. */
  shimGroup: ShimGrouping;
  /** The most tasks one shim serves; the next starts a fresh shim. */
  shimMaxTasks: number;
  /** How long a group's shim without tasks waits for the next one. */
  shimLingerMs: number;
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

/** The daemon's tasks. */
export class TaskManager {
  readonly #options: TaskManagerOptions;
  readonly #tasks = new Map<string, Task>();
  readonly #shims: ShimManager;
  /** Removed bundles whose files are still being deleted. */
  readonly #removals = new Set<Promise<void>>();

  /** Creates the manager. */
  constructor(options: TaskManagerOptions) {
    this.#options = options;
    this.#shims = new ShimManager({
      state: options.state,
      daemonAddress: options.daemonAddress,
      ttrpcAddress: options.ttrpcAddress,
      onDeath: (shim) => this.#shimDied(shim),
    });
  }

  #key(namespace: string, id: string) {
    return `${namespace}/${id}`;
  }

  #task(namespace: string, id: string): Task {
    const task = this.#tasks.get(this.#key(namespace, id));
    // containerd's words: ctr then prints `task ID not found: not found`.
    if (!task) throw notFound(`task ${id} not found`);
    return task;
  }

  /** The task API of the shim serving task `id` of `namespace`. */
  #api(namespace: string, id: string) {
    return this.#task(namespace, id).shim.api;
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

  /** Creates a task for a container: bundle, shim, `Task.Create`. */
  async create(
    namespace: string,
    id: string,
    options: CreateTaskOptions,
  ): Promise<number> {
    validateIdentifier(id);
    const key = this.#key(namespace, id);
    if (this.#tasks.has(key)) throw alreadyExists(`task ${id}`);
    if (options.spec.typeUrl !== SPEC_TYPE) {
      throw invalidArgument(`unsupported spec type ${options.spec.typeUrl}`);
    }
    const runtime = this.#runtime(options.runtime);
    const bundle = bundleOf(this.#options.state, namespace, id);
    writeBundle(bundle, options.spec.value, options.runtime);
    let shim: Shim | undefined;
    try {
      const runc = runcOptions(runtime, [
        options.runtimeOptions,
        options.options,
      ]);
      shim = await this.#shims.acquire({
        shim: runtime.shim,
        runtime: options.runtime,
        bundle,
        group: shimGroup(runtime, options, runc.shimCgroup),
        maxTasks: runtime.shimMaxTasks,
        lingerMs: runtime.shimLingerMs,
      });
      writeShimAddress(bundle, {
        socket: shim.address,
        group: shim.group,
      });
      const created = await shim.api.create({
        id,
        bundle: bundle.path,
        rootfs: options.rootfs,
        stdin: options.stdin,
        stdout: options.stdout,
        stderr: options.stderr,
        terminal: options.terminal,
        options: {
          typeUrl: OptionsSchema.typeName,
          value: toBinary(OptionsSchema, runc),
        },
      });
      this.#tasks.set(key, {
        bundle,
        shim,
        pid: created.pid,
        runtime,
        execs: new ExitedExecs(),
      });
      return created.pid;
    } catch (err) {
      // Nothing half-made stays: no container, no bundle, no idle shim.
      if (shim) await this.#shims.release(shim, bundle);
      await this.#cleanUp(bundle, runtime.shim);
      throw shimTaskError(err);
    }
  }

  /** Starts the task's init process (or exec `execId`); returns its pid. */
  async start(namespace: string, id: string, execId = ""): Promise<number> {
    const task = this.#task(namespace, id);
    const pid = (await task.shim.api.start({ id, execId })).pid;
    if (execId) task.execs.started(execId, pid);
    return pid;
  }

  /** Waits for the process to exit; its status and time. */
  async wait(namespace: string, id: string, execId = "") {
    const task = this.#task(namespace, id);
    const done = await task.shim.api.wait({ id, execId });
    const exit = { exitStatus: done.exitStatus, exitedAt: done.exitedAt };
    if (execId) task.execs.exited(execId, exit);
    return exit;
  }

  /**
   * The process's state: its shim's answer, or for an exec'd process
   * whose exit its shim has told, what that shim would answer.
   */
  async state(namespace: string, id: string, execId = "") {
    const task = this.#task(namespace, id);
    return (execId && task.execs.state(task.bundle.path, execId)) ||
      await task.shim.api.state({ id, execId });
  }

  /**
   * Every task of `namespace`; one deleted (or whose shim went away) while
   * the list is made is left out, as containerd does.
   */
  async list(namespace: string) {
    const states = await Promise.all(
      this.ids(namespace).map((id) =>
        this.state(namespace, id).catch((err) => {
          if (
            BerthError.is(err, Code.NotFound) ||
            BerthError.is(err, Code.Unavailable)
          ) return undefined;
          throw err;
        })
      ),
    );
    return states.filter((state) => state !== undefined);
  }

  /** Signals the process (or every process of the task with `all`). */
  async kill(
    namespace: string,
    id: string,
    execId: string,
    signal: number,
    all: boolean,
  ) {
    await this.#api(namespace, id).kill({ id, execId, signal, all });
  }

  /** Closes the process's stdin (the client has no more to send). */
  async closeIO(namespace: string, id: string, execId: string, stdin: boolean) {
    await this.#api(namespace, id).closeIO({ id, execId, stdin });
  }

  /** The task's processes. */
  async pids(namespace: string, id: string) {
    return (await this.#api(namespace, id).pids({ id })).processes;
  }

  /** Adds process `execId` to the task; it runs at its Start. */
  async exec(
    namespace: string,
    id: string,
    execId: string,
    options: ExecOptions,
  ): Promise<void> {
    // containerd checks the exec id before its shim is asked, in these words.
    const problem = identifierProblem(execId);
    if (problem) throw invalidArgument(`invalid exec id ${execId}: ${problem}`);
    const task = this.#task(namespace, id);
    await task.shim.api.exec({ id, execId, ...options });
    task.execs.added(execId, options);
  }

  /** Deletes exited process `execId`; its pid and exit. */
  async deleteProcess(namespace: string, id: string, execId: string) {
    const task = this.#task(namespace, id);
    task.execs.forget(execId);
    const deleted = await task.shim.api.delete({ id, execId });
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
    await this.#api(namespace, id).resizePty({ id, execId, width, height });
  }

  /** Applies new resources (`LinuxResources` JSON) to the task. */
  async update(
    namespace: string,
    id: string,
    resources: { typeUrl: string; value: Uint8Array },
    annotations: Record<string, string>,
  ): Promise<void> {
    await this.#api(namespace, id).update({ id, resources, annotations });
  }

  /** The task's cgroup metrics, packed as the shim reports them. */
  async stats(namespace: string, id: string) {
    return (await this.#api(namespace, id).stats({ id })).stats;
  }

  /** The ids of `namespace`'s tasks. */
  ids(namespace: string): string[] {
    return [...this.#tasks.values()]
      .filter((t) => t.bundle.namespace === namespace)
      .map((t) => t.bundle.id);
  }

  /** Freezes the task. */
  async pause(namespace: string, id: string) {
    await this.#api(namespace, id).pause({ id });
  }

  /** Thaws the task. */
  async resume(namespace: string, id: string) {
    await this.#api(namespace, id).resume({ id });
  }

  /**
   * Deletes a stopped task: the shim's `Delete`, the bundle removed, and
   * the shim shut down if it serves no other task.
   */
  async delete(namespace: string, id: string) {
    const task = this.#task(namespace, id);
    const deleted = await task.shim.api.delete({ id });
    this.#tasks.delete(this.#key(namespace, id));
    await this.#shims.release(
      task.shim,
      task.bundle,
      task.runtime.shimLingerMs,
    );
    await this.#removeBundle(task.bundle);
    return {
      pid: deleted.pid,
      exitStatus: deleted.exitStatus,
      exitedAt: deleted.exitedAt,
    };
  }

  /**
   * Finds the shims of a previous daemon (bundles hold their `address`)
   * and connects to each once again. A bundle whose shim is gone, or
   * answers for no such task, is cleaned up as containerd does after a
   * dead shim: runc force-deletes the container (killing what still runs),
   * the rootfs is unmounted and the bundle removed. The container record
   * stays, so its task can be started again.
   */
  async reconnect(): Promise<void> {
    await emptyBundleTrash(this.#options.state);
    for await (const bundle of listBundles(this.#options.state)) {
      // The bundle names its runtime: its shim's log, and its clean-up.
      const name = await readBundleRuntime(bundle) ??
        this.#options.defaultRuntime;
      const runtime = this.#runtimeOrDefault(name);
      const command = runtime.shim;
      let shim: Shim | undefined;
      try {
        shim = await this.#shims.load(await readShimAddress(bundle), bundle);
        // A shim that hangs must not hold up the daemon's start.
        const state = await shim.api.state({ id: bundle.id }, {
          timeoutMs: RECONNECT_TIMEOUT_MS,
        });
        this.#tasks.set(this.#key(bundle.namespace, bundle.id), {
          bundle,
          shim,
          pid: state.pid,
          runtime,
          execs: new ExitedExecs(),
        });
        readShimLog(this.#shims.startOptions(command, bundle));
      } catch {
        if (shim) await this.#shims.release(shim, bundle);
        await this.#cleanUp(bundle, command);
      }
    }
  }

  /**
   * A shim died: each of its tasks is cleaned up as containerd does —
   * runc's container, mount and bundle removed, the exit (status 255,
   * unknown) and deletion published. Other shims' tasks are untouched.
   */
  async #shimDied(shim: Shim): Promise<void> {
    const tasks = [...this.#tasks.entries()].filter(([, t]) => t.shim === shim);
    for (const [key] of tasks) this.#tasks.delete(key);
    for (const [, task] of tasks) {
      await this.#cleanUp(task.bundle, task.runtime.shim).catch(() => {});
      const exitedAt = create(
        TimestampSchema,
        secondsAndNanos(new NanoDate(realtimeNanos())),
      );
      // As containerd's: the exit names the process, the delete does not.
      const deleted = {
        containerId: task.bundle.id,
        pid: task.pid,
        exitStatus: 255,
        exitedAt,
      };
      this.#publish(task.bundle.namespace, "/tasks/exit", TaskExitSchema, {
        ...deleted,
        id: task.bundle.id,
      });
      this.#publish(
        task.bundle.namespace,
        "/tasks/delete",
        TaskDeleteSchema,
        deleted,
      );
    }
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
   * Undoes what a task whose shim died (or never got it) left: runc's
   * container, the rootfs mount and the bundle.
   */
  async #cleanUp(bundle: Bundle, command: ShimCommand): Promise<void> {
    await deleteShim(this.#shims.startOptions(command, bundle));
    await this.#removeBundle(bundle);
  }

  /**
   * Removes the bundle from its path now; its files are deleted after the
   * caller has gone on (a failure there is only logged: the trash is
   * emptied again at the next start).
   */
  async #removeBundle(bundle: Bundle): Promise<void> {
    const { removed } = await removeBundle(bundle);
    const settled: Promise<void> = removed.catch((error) =>
      log.warn("deleting a removed bundle's files", {
        bundle: bundle.path,
        error,
      })
    ).finally(() => this.#removals.delete(settled));
    this.#removals.add(settled);
  }

  /** Disconnects from every shim (they keep running). */
  async close(): Promise<void> {
    this.#tasks.clear();
    await Promise.all(this.#removals);
    await this.#shims.close();
  }
}

/**
 * The group whose shim runs the container: the one it names (by label,
 * or by annotation as containerd's runc shim reads it), else its
 * namespace's when the runtime groups by namespace, else none.
 *
 * A shim joins its `shim_cgroup` when it starts, so a named group's shim
 * stays where its first container put it, as containerd's does. Grouping
 * by namespace is berth's own (containerd starts a shim per container,
 * each in its own `shim_cgroup`): there containers that ask for different
 * shim cgroups get different shims.
 */
function shimGroup(
  runtime: Runtime,
  options: CreateTaskOptions,
  shimCgroup: string,
): string | undefined {
  const named = options.labels?.[GROUP_LABEL] ??
    specAnnotation(options.spec.value, GROUP_LABEL, SANDBOX_ANNOTATION);
  if (named) return `group:${named}`;
  if (runtime.shimGroup !== "namespace") return undefined;
  return shimCgroup ? `namespace:${shimCgroup}` : "namespace";
}

/** The first of `names` the spec's annotations hold. */
function specAnnotation(
  spec: Uint8Array,
  ...names: string[]
): string | undefined {
  let annotations: Record<string, unknown> | undefined;
  try {
    annotations = JSON.parse(new TextDecoder().decode(spec))?.annotations;
  } catch {
    return undefined;
  }
  for (const name of names) {
    const value = annotations?.[name];
    if (typeof value === "string" && value) return value;
  }
  return undefined;
}

/** A failed `Task.Create` as containerd words it, with its code. */
function shimTaskError(err: unknown): unknown {
  if (!(err instanceof BerthError)) return err;
  // The message keeps its one class suffix (": unknown"), as on the wire.
  const wrapped = new BerthError(err.code, "", { cause: err });
  wrapped.message = `failed to create shim task: ${err.message}`;
  return wrapped;
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
  return options;
}
