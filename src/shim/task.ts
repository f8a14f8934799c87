/**
 * The runtime v2 task service (`containerd.task.v2.Task`) for a group of
 * containers, each known by the id its requests carry: its init process
 * and its exec'd processes, driven with runc, with the task events
 * containerd's shims publish (OOM kills included). Each container has its
 * own bundle, stdio, exit file, OOM watch and cgroup; one's exit never
 * touches another.
 *
 * Checkpoint is not implemented and answers `Unimplemented`.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyUnpack, type Timestamp } from "@bufbuild/protobuf/wkt";
import { dirname, join } from "../types/path.ts";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from "../gen/containerd/events/task_pb.ts";
import type {
  CreateTaskRequest,
  DeleteRequest,
  ExecProcessRequest,
  KillRequest,
  StartRequest,
  Task,
  UpdateTaskRequest,
} from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import {
  OptionsSchema,
  ProcessDetailsSchema,
} from "../gen/containerd/runc/options/oci_pb.ts";
import { mountAll } from "../mount/mount.ts";
import { unmountAll } from "../mount/unmount.ts";
import { SyscallError } from "../sys/libc.ts";
import { ProcessSet } from "../sys/pidfd.ts";
import { signalProcess } from "../sys/proc.ts";
import {
  cgroupDirOf,
  cgroupMembers,
  joinCgroup,
  primeMigration,
} from "./cgroup.ts";
import type { TtrpcServiceImpl } from "../ttrpc/server.ts";
import { BerthError, Code } from "../types/errors.ts";
import { validateIdentifier } from "../types/identifiers.ts";
import { execProcessSpec } from "./exec_spec.ts";
import { writeExitFile } from "./exit_file.ts";
import { type InitOperation, initRefusal } from "./init_state.ts";
import { packMetrics } from "./metrics.ts";
import { OomWatcher } from "./oom.ts";
import { ShimProcess } from "./process.ts";
import type { EventPublisher } from "./publisher.ts";
import { killFailure, Runc } from "./runc.ts";
import { withPipedBytes } from "./spec_pipe.ts";
import { toTimestamp } from "./timestamp.ts";

/** Where the shim keeps runc's options for the `delete` action. */
export const RUNC_OPTIONS_FILE = "runc.json";

/** The file in each bundle naming the shim's pid. */
export const SHIM_PID_FILE = "shim.pid";

/** The spec types of exec'd processes and resource updates. */
const PROCESS_TYPE =
  "types.containerd.io/opencontainers/runtime-spec/1/Process";
/** The type URL containerd's shim gives an exec's process details. */
const PROCESS_DETAILS_TYPE = "containerd.runc.v1.ProcessDetails";

const RESOURCES_TYPE =
  "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

/**
 * How long a host-PID container's exit waits for the rest of its processes
 * to die once killed: a process stuck in the kernel must not hold the exit
 * for ever.
 */
const KILL_ALL_BOUND_MS = 10_000;

/** Settings of a {@linkcode TaskService}. */
export interface TaskServiceOptions {
  /** Namespace of the container (names the default runc root). */
  namespace: string;
  /** Where task events go. */
  publisher: EventPublisher;
  /** Called after a Shutdown that ends the shim has been answered. */
  onShutdown?: () => void;
}

interface Container {
  id: string;
  bundle: string;
  runc: Runc;
  rootfsMounted: boolean;
  init: ShimProcess;
  execs: Map<string, ShimProcess>;
  /** The process specs of execs not yet deleted, handed to runc at Start. */
  execSpecs: Map<string, Uint8Array>;
  deleted: boolean;
  /** Its init was started (runc start succeeded). */
  started: boolean;
  /** Paused by this shim and not resumed since. */
  paused: boolean;
  /** A pause is under way. */
  pausing: boolean;
}

/**
 * The runc root used when Create's options name none: `STATE/runc/NS`
 * beside the daemon's bundles (`STATE/io.containerd.runtime.v2.task/NS/ID`),
 * so every daemon's containers stay under its own state directory.
 */
export function defaultRuncRoot(bundle: string, namespace: string): string {
  return join(dirname(dirname(dirname(bundle))), "runc", namespace);
}

/**
 * Whether the bundle's container has no PID namespace of its own (none, or
 * one it joins by path), so its processes outlive its init. An unreadable
 * spec counts as shared, as in containerd.
 */
function sharesHostPids(bundle: string): boolean {
  try {
    const spec = JSON.parse(
      Deno.readTextFileSync(join(bundle, "config.json")),
    ) as { linux?: { namespaces?: { type?: string; path?: string }[] } };
    return !spec.linux?.namespaces?.some((ns) => ns.type === "pid" && !ns.path);
  } catch {
    return true;
  }
}

/** The Task service for the shim's containers, managed with runc. */
export class TaskService {
  readonly #options: TaskServiceOptions;
  /** The containers by id, from their Create until their Delete. */
  readonly #containers = new Map<string, Container>();
  /** Ids whose Create is under way. */
  readonly #creating = new Set<string>();
  /** Whether any Create has succeeded. */
  #served = false;
  /**
   * Whether the shim's cgroup is settled: by its first Create, whose runc
   * options' `shim_cgroup` it joins, as containerd's shim does when it
   * starts. Later containers of its group do not move it.
   */
  #cgroupSettled = false;

  /** Creates the service; nothing runs until Create. */
  constructor(options: TaskServiceOptions) {
    this.#options = options;
  }

  /** Whether it serves no container (and none is being created). */
  get idle(): boolean {
    return this.#containers.size === 0 && this.#creating.size === 0;
  }

  /** Whether it has served containers and serves none any more. */
  get done(): boolean {
    return this.#served && this.idle;
  }

  #publish = (...args: Parameters<EventPublisher["publish"]>) =>
    this.#options.publisher.publish(...args);

  /** Handlers for {@linkcode TtrpcServer.registerService}. */
  handlers(): TtrpcServiceImpl<typeof Task> {
    return {
      create: (r) => this.create(r),
      start: (r) => this.start(r),
      state: (r) => {
        const { container, process } = this.#process(r.id, r.execId);
        return Promise.resolve(process.state(
          process === container.init
            ? this.#initStatus(container)
            : process.pid
            ? Status.RUNNING
            : Status.CREATED,
        ));
      },
      kill: (r) => this.kill(r),
      wait: async (r) => {
        const exit = await this.#process(r.id, r.execId).process.exited;
        return {
          exitStatus: exit.status,
          exitedAt: toTimestamp(exit.exitedAt),
        };
      },
      delete: (r) => this.delete(r),
      exec: (r) => this.exec(r),
      pids: async (r) => {
        const container = this.#get(r.id);
        const pids = await container.runc.ps(container.id);
        // An exec'd process is told by its exec id, as containerd's shim
        // tells it (`ctr tasks ps` shows it).
        const execIds = new Map(
          [...container.execs].map(([execId, exec]) => [exec.pid, execId]),
        );
        return {
          processes: pids.map((pid) => {
            const execId = execIds.get(pid);
            return execId === undefined ? { pid } : {
              pid,
              info: {
                typeUrl: PROCESS_DETAILS_TYPE,
                value: toBinary(
                  ProcessDetailsSchema,
                  create(ProcessDetailsSchema, { execId }),
                ),
              },
            };
          }),
        };
      },
      pause: async (r) => {
        const container = this.#get(r.id);
        this.#refuseIn(container, "pause");
        container.pausing = true;
        try {
          await container.runc.pause(container.id);
        } finally {
          container.pausing = false;
        }
        container.paused = true;
        this.#publish("/tasks/paused", TaskPausedSchema, {
          containerId: container.id,
        });
        return {};
      },
      resume: async (r) => {
        const container = this.#get(r.id);
        this.#refuseIn(container, "resume");
        await container.runc.resume(container.id);
        container.paused = false;
        this.#publish("/tasks/resumed", TaskResumedSchema, {
          containerId: container.id,
        });
        return {};
      },
      closeIO: (r) => {
        const { process } = this.#process(r.id, r.execId);
        if (r.stdin) process.closeStdin();
        return Promise.resolve({});
      },
      resizePty: (r) => {
        const { container, process } = this.#process(r.id, r.execId);
        // containerd's shim refuses an exited exec, never the init.
        if (process !== container.init && process.exit) {
          throw new BerthError(
            Code.Unknown,
            "cannot resize a stopped container",
          );
        }
        process.resize(r.width, r.height);
        return Promise.resolve({});
      },
      update: (r) => this.update(r),
      stats: async (r) => {
        const container = this.#get(r.id);
        return { stats: packMetrics(await container.runc.stats(container.id)) };
      },
      connect: (r) =>
        Promise.resolve({
          shimPid: Deno.pid,
          taskPid: this.#containers.get(r.id)?.init.pid ?? 0,
          version: "",
        }),
      shutdown: async (r) => {
        // A shim ends with its last container (or when told to now).
        if (!r.now && !this.idle) return {};
        await this.#options.publisher.flush();
        queueMicrotask(() => setTimeout(() => this.#options.onShutdown?.(), 0));
        return {};
      },
      checkpoint: () =>
        Promise.reject(
          new BerthError(Code.Unimplemented, "shim: checkpoint"),
        ),
    };
  }

  /** Create: mounts the rootfs and runs `runc create`. */
  async create(r: CreateTaskRequest): Promise<{ pid: number }> {
    validateIdentifier(r.id);
    if (this.#containers.has(r.id) || this.#creating.has(r.id)) {
      throw new BerthError(Code.AlreadyExists, `task ${r.id}`);
    }
    if (r.checkpoint) {
      throw new BerthError(Code.Unimplemented, "shim: restore from checkpoint");
    }
    if (!r.bundle.startsWith("/")) {
      throw new BerthError(
        Code.InvalidArgument,
        `task ${r.id}: bundle must be an absolute path, not "${r.bundle}"`,
      );
    }
    this.#creating.add(r.id);
    try {
      const created = await this.#create(r);
      this.#served = true;
      return created;
    } finally {
      this.#creating.delete(r.id);
    }
  }

  async #create(r: CreateTaskRequest): Promise<{ pid: number }> {
    const bundle = r.bundle;
    const opts = r.options ? anyUnpack(r.options, OptionsSchema) : undefined;
    const runc = new Runc({
      binary: opts?.binaryName || undefined,
      root: opts?.root
        ? join(opts.root, this.#options.namespace)
        : defaultRuncRoot(bundle, this.#options.namespace),
      log: join(bundle, "log.json"),
    });
    // The bundle's small files are written synchronously (microseconds on
    // the state tmpfs), sparing a worker-thread round trip each.
    Deno.writeTextFileSync(
      join(bundle, RUNC_OPTIONS_FILE),
      JSON.stringify({ id: r.id, binary: runc.binary, root: runc.root }),
    );
    // Which process supervises this container, for whoever cleans up.
    Deno.writeTextFileSync(join(bundle, SHIM_PID_FILE), `${Deno.pid}\n`);
    if (!this.#cgroupSettled) {
      this.#cgroupSettled = true;
      try {
        if (opts?.shimCgroup) await joinCgroup(opts.shimCgroup);
      } catch (err) {
        this.#cgroupSettled = false; // the next Create tries its own
        throw err;
      }
    }
    // runc create moves the init into the container's cgroup.
    void primeMigration();
    const rootfs = join(bundle, "rootfs");
    let rootfsMounted = false;
    const stdio = {
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
    };
    const watch: { oom?: OomWatcher } = {};
    // Read once while the bundle surely exists, not again at the exit.
    const sharedPids = sharesHostPids(bundle);
    let procs: string | undefined; // its cgroup's members, when sharedPids
    const init = new ShimProcess({
      containerId: r.id,
      execId: "",
      bundle,
      stdio,
      onExit: async (exit, pid) => {
        // Without a PID namespace of its own, init's end does not end the
        // rest: they are killed before the exit is told, as containerd does,
        // and (unlike containerd) gone by then, so a client that saw the
        // exit finds none of them (a SIGKILL takes effect when the process
        // next runs, which under load can be well after runc returns).
        if (sharedPids) {
          const rest = new ProcessSet(procs ? cgroupMembers(procs) : []);
          await runc.kill(r.id, 9, true).catch(() => {});
          await rest.ended(AbortSignal.timeout(KILL_ALL_BOUND_MS));
        }
        // An OOM kill that ended the container is told before its exit.
        watch.oom?.check();
        watch.oom?.stop();
        try {
          writeExitFile(bundle, exit);
        } catch {
          // the bundle is gone: nobody will look for the file
        }
        this.#publishExit(r.id, "", pid, exit);
      },
    });
    try {
      if (r.rootfs.length > 0) {
        Deno.mkdirSync(rootfs, { recursive: true });
        await mountAll(r.rootfs, rootfs);
        rootfsMounted = true;
      }
      const extra = opts?.noPivotRoot ? ["--no-pivot"] : [];
      await init.launch((stdio, args) =>
        runc.create(r.id, bundle, stdio, [...extra, ...args])
      );
    } catch (err) {
      // runc removes what a failed create made; a create that succeeded
      // before the terminal failed is removed here.
      if (init.pid) await runc.delete(r.id, true).catch(() => {});
      if (rootfsMounted) await unmountAll(rootfs).catch(() => {});
      throw err;
    }
    // runc's kill --all walks the freezer hierarchy on v1.
    const cgroup = sharedPids ? cgroupDirOf(init.pid, "freezer") : undefined;
    if (cgroup) procs = join(cgroup, "cgroup.procs");
    watch.oom = OomWatcher.start(
      init.pid,
      () => this.#publish("/tasks/oom", TaskOOMSchema, { containerId: r.id }),
    );
    this.#containers.set(r.id, {
      id: r.id,
      bundle,
      runc,
      rootfsMounted,
      init,
      execs: new Map(),
      execSpecs: new Map(),
      deleted: false,
      started: false,
      paused: false,
      pausing: false,
    });
    this.#publish("/tasks/create", TaskCreateSchema, {
      containerId: r.id,
      bundle,
      rootfs: r.rootfs,
      io: stdio,
      checkpoint: r.checkpoint,
      pid: init.pid,
    });
    return { pid: init.pid };
  }

  /** Start: `runc start` for the init process, `runc exec` for an exec. */
  async start(r: StartRequest): Promise<{ pid: number }> {
    const { container, process } = this.#process(r.id, r.execId);
    const release = process.holdExit();
    try {
      if (process === container.init) {
        this.#refuseIn(container, "start");
        await container.runc.start(container.id);
        container.started = true;
        this.#publish("/tasks/start", TaskStartSchema, {
          containerId: container.id,
          pid: process.pid,
        });
        return { pid: process.pid };
      }
      if (process.pid) {
        throw new BerthError(
          Code.Unknown,
          process.exit
            ? "cannot start a stopped process"
            : "cannot start a running process",
        );
      }
      // runc exec moves the process into the container's cgroup: primed at
      // Exec, unless that prime is done and has worn off (a Start long after).
      void primeMigration();
      const spec = container.execSpecs.get(r.execId)!;
      const pid = await withPipedBytes(
        spec,
        (specFile) =>
          process.launch((stdio, args) =>
            container.runc.exec(container.id, specFile, stdio, args)
          ),
      );
      this.#publish("/tasks/exec-started", TaskExecStartedSchema, {
        containerId: container.id,
        execId: r.execId,
        pid,
      });
      return { pid };
    } finally {
      release();
    }
  }

  /**
   * Exec: records a process to run in the container at its Start, and
   * opens its stdio (the client's FIFOs) already.
   */
  async exec(r: ExecProcessRequest): Promise<Record<string, never>> {
    const container = this.#get(r.id);
    validateIdentifier(r.execId);
    if (container.execs.has(r.execId)) {
      throw new BerthError(Code.AlreadyExists, `id ${r.execId}`);
    }
    this.#refuseIn(container, "exec");
    if (r.spec?.typeUrl !== PROCESS_TYPE) {
      throw new BerthError(
        Code.InvalidArgument,
        `exec ${r.execId}: spec must be a ${PROCESS_TYPE}`,
      );
    }
    // Its Start's runc exec moves a process between cgroups: the kernel is
    // readied for that now, while the client gets on to the Start.
    void primeMigration();
    container.execSpecs.set(
      r.execId,
      execProcessSpec(r.execId, r.spec.value, r.terminal),
    );
    const process = new ShimProcess({
      containerId: container.id,
      execId: r.execId,
      bundle: container.bundle,
      stdio: {
        stdin: r.stdin,
        stdout: r.stdout,
        stderr: r.stderr,
        terminal: r.terminal,
      },
      onExit: (exit, pid) =>
        this.#publishExit(container.id, r.execId, pid, exit),
    });
    container.execs.set(r.execId, process);
    await process.openStdio();
    this.#publish("/tasks/exec-added", TaskExecAddedSchema, {
      containerId: container.id,
      execId: r.execId,
    });
    return {};
  }

  /** Kill: `runc kill` for init, a signal for an exec; exited is NotFound. */
  async kill(r: KillRequest): Promise<Record<string, never>> {
    const { container, process } = this.#process(r.id, r.execId);
    if (process.exit && !r.all) {
      throw new BerthError(Code.NotFound, "process already finished");
    }
    if (process === container.init) {
      await container.runc.kill(container.id, r.signal, r.all);
      return {};
    }
    if (!process.pid) {
      // Not yet started, or its start failed: containerd's words.
      throw new BerthError(Code.FailedPrecondition, "process not created");
    }
    try {
      signalProcess(process.pid, r.signal);
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      // Worded as Go words the errno ("no such process", "invalid argument").
      const reason = err.description[0].toLowerCase() +
        err.description.slice(1);
      throw killFailure(reason, "exec kill error: ");
    }
    return {};
  }

  /**
   * Delete: for the init process `runc delete`, unmounting the rootfs; for
   * an exec, forgetting it. Either must have exited (or never started).
   */
  async delete(r: DeleteRequest) {
    const { container, process } = this.#process(r.id, r.execId);
    if (process !== container.init) {
      if (process.pid && !process.exit) {
        throw new BerthError(Code.Unknown, "cannot delete a running process");
      }
      await process.close();
      container.execs.delete(r.execId);
      container.execSpecs.delete(r.execId);
      return this.#deleted(process, process.exit);
    }
    const init = container.init;
    this.#refuseIn(container, "delete");
    try {
      await container.runc.delete(container.id, !init.exit);
    } catch (err) {
      if (!BerthError.is(err, Code.NotFound)) throw err;
    }
    const exit = init.exit ?? await init.exited;
    if (container.rootfsMounted) {
      await unmountAll(join(container.bundle, "rootfs"));
      container.rootfsMounted = false;
    }
    container.deleted = true;
    this.#containers.delete(container.id);
    await init.close();
    const deleted = this.#deleted(init, exit);
    // containerd's shim leaves the event's process id empty.
    this.#publish("/tasks/delete", TaskDeleteSchema, {
      containerId: container.id,
      ...deleted,
    });
    return deleted;
  }

  /** Update: `runc update` with the new `LinuxResources`. */
  async update(r: UpdateTaskRequest): Promise<Record<string, never>> {
    const container = this.#get(r.id);
    this.#refuseIn(container, "update");
    if (r.resources?.typeUrl !== RESOURCES_TYPE) {
      throw new BerthError(
        Code.InvalidArgument,
        `update of task ${container.id}: resources must be a ${RESOURCES_TYPE}`,
      );
    }
    const file = join(container.bundle, "resources.json");
    await Deno.writeFile(file, r.resources.value);
    try {
      await container.runc.update(container.id, file);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
    return {};
  }

  /**
   * Refuses `operation` as containerd does in the init's state as this
   * shim knows it (as containerd's shim keeps it: no runc call to ask).
   */
  #refuseIn(container: Container, operation: InitOperation) {
    const refusal = initRefusal(operation, this.#initStatus(container, false));
    if (refusal) throw new BerthError(Code.Unknown, refusal);
  }

  /**
   * The init's state as this shim keeps it, as containerd's shim answers
   * State: from what it did and saw (a start, a pause, the reaped exit),
   * not from a `runc state` spawned for every question.
   */
  #initStatus(container: Container, pausing = true): Status {
    return container.init.exit || container.deleted
      ? Status.STOPPED
      : pausing && container.pausing
      ? Status.PAUSING
      : container.paused
      ? Status.PAUSED
      : container.started
      ? Status.RUNNING
      : Status.CREATED;
  }

  #deleted(
    process: ShimProcess,
    exit: { status: number; exitedAt: Date } | undefined,
  ): { pid: number; exitStatus: number; exitedAt?: Timestamp } {
    return {
      pid: process.pid,
      exitStatus: exit?.status ?? 0,
      exitedAt: exit ? toTimestamp(exit.exitedAt) : undefined,
    };
  }

  #publishExit(
    containerId: string,
    execId: string,
    pid: number,
    exit: { status: number; exitedAt: Date },
  ) {
    this.#publish("/tasks/exit", TaskExitSchema, {
      containerId,
      id: execId || containerId,
      pid,
      exitStatus: exit.status,
      exitedAt: toTimestamp(exit.exitedAt),
    });
  }

  #get(id: string): Container {
    const container = this.#containers.get(id);
    if (!container) throw new BerthError(Code.NotFound, `task ${id}`);
    return container;
  }

  #process(id: string, execId: string) {
    const container = this.#get(id);
    if (!execId) return { container, process: container.init };
    const process = container.execs.get(execId);
    if (!process) {
      throw new BerthError(Code.NotFound, `process does not exist ${execId}`);
    }
    return { container, process };
  }
}
