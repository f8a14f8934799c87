/**
 * The runtime v2 task service (`containerd.task.v2.Task`) for one
 * container's init process, driving runc.
 *
 * Exec, ResizePty, Update, Stats and Checkpoint are not implemented yet and
 * answer `Unimplemented`, as does Create with a terminal.
 *
 * @module
 */
import { anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { dirname, join } from "node:path";
import type {
  CreateTaskRequest,
  DeleteRequest,
  KillRequest,
  StateRequest,
  Task,
} from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import { OptionsSchema } from "../gen/containerd/runc/options/oci_pb.ts";
import { mountAll } from "../mount/mount.ts";
import { unmountAll } from "../mount/unmount.ts";
import type { TtrpcServiceImpl } from "../ttrpc/server.ts";
import { BerthError, Code } from "../types/errors.ts";
import { validateIdentifier } from "../types/identifiers.ts";
import { writeExitFile } from "./exit_file.ts";
import { type ExitStatus, waitForExit } from "./reaper.ts";
import { Runc } from "./runc.ts";
import { ProcessStdio } from "./stdio.ts";

/** Where the shim keeps runc's options for the `delete` action. */
export const RUNC_OPTIONS_FILE = "runc.json";

/** Settings of a {@linkcode TaskService}. */
export interface TaskServiceOptions {
  /** Namespace of the container (names the default runc root). */
  namespace: string;
  /** Called after Shutdown has been answered. */
  onShutdown?: () => void;
}

interface InitProcess {
  id: string;
  bundle: string;
  pid: number;
  stdin: string;
  stdout: string;
  stderr: string;
  stdio: ProcessStdio;
  runc: Runc;
  rootfsMounted: boolean;
  exit?: ExitStatus;
  exited: Promise<ExitStatus>;
  deleted: boolean;
}

const RUNC_STATUS: Record<string, Status> = {
  created: Status.CREATED,
  running: Status.RUNNING,
  pausing: Status.PAUSING,
  paused: Status.PAUSED,
  stopped: Status.STOPPED,
};

/**
 * The runc root used when Create's options name none: `STATE/runc/NS`
 * beside the daemon's bundles (`STATE/io.containerd.runtime.v2.task/NS/ID`),
 * so every daemon's containers stay under its own state directory.
 */
export function defaultRuncRoot(bundle: string, namespace: string): string {
  return join(dirname(dirname(dirname(bundle))), "runc", namespace);
}

/** The Task service for one container, managed with runc. */
export class TaskService {
  readonly #options: TaskServiceOptions;
  #init: InitProcess | undefined;

  /** Creates the service; nothing runs until Create. */
  constructor(options: TaskServiceOptions) {
    this.#options = options;
  }

  /** The init process pid, or 0 before Create. */
  get taskPid(): number {
    return this.#init?.pid ?? 0;
  }

  /** Handlers for {@linkcode TtrpcServer.registerService}. */
  handlers(): TtrpcServiceImpl<typeof Task> {
    return {
      create: (r) => this.create(r),
      start: async (r) => {
        const init = this.#get(r.id, r.execId);
        await init.runc.start(init.id);
        return { pid: init.pid };
      },
      state: (r) => this.state(r),
      kill: (r) => this.kill(r),
      wait: async (r) => {
        const exit = await this.#get(r.id, r.execId).exited;
        return {
          exitStatus: exit.status,
          exitedAt: timestampFromDate(exit.exitedAt),
        };
      },
      delete: (r) => this.delete(r),
      pids: async (r) => {
        const init = this.#get(r.id, "");
        const pids = await init.runc.ps(init.id);
        return { processes: pids.map((pid) => ({ pid })) };
      },
      pause: async (r) => {
        const init = this.#get(r.id, "");
        await init.runc.pause(init.id);
        return {};
      },
      resume: async (r) => {
        const init = this.#get(r.id, "");
        await init.runc.resume(init.id);
        return {};
      },
      closeIO: (r) => {
        const init = this.#get(r.id, r.execId);
        if (r.stdin) init.stdio.closeStdin();
        return Promise.resolve({});
      },
      connect: () =>
        Promise.resolve({
          shimPid: Deno.pid,
          taskPid: this.taskPid,
          version: "",
        }),
      shutdown: (r) => {
        const init = this.#init;
        if (!r.now && init && !init.deleted) return Promise.resolve({});
        queueMicrotask(() => setTimeout(() => this.#options.onShutdown?.(), 0));
        return Promise.resolve({});
      },
      exec: () => unimplemented("exec"),
      resizePty: () => unimplemented("resize pty"),
      update: () => unimplemented("update"),
      stats: () => unimplemented("stats"),
      checkpoint: () => unimplemented("checkpoint"),
    };
  }

  /** Create: mounts the rootfs and runs `runc create`. */
  async create(r: CreateTaskRequest): Promise<{ pid: number }> {
    validateIdentifier(r.id);
    if (this.#init) {
      throw new BerthError(Code.AlreadyExists, `task ${r.id}`);
    }
    if (r.terminal) unimplementedSync("terminal");
    if (r.checkpoint) unimplementedSync("restore from checkpoint");
    const bundle = r.bundle || Deno.cwd();
    const opts = r.options ? anyUnpack(r.options, OptionsSchema) : undefined;
    const runc = new Runc({
      binary: opts?.binaryName || undefined,
      root: opts?.root || defaultRuncRoot(bundle, this.#options.namespace),
      log: join(bundle, "log.json"),
    });
    await Deno.writeTextFile(
      join(bundle, RUNC_OPTIONS_FILE),
      JSON.stringify({ id: r.id, binary: runc.binary, root: runc.root }),
    );
    const rootfs = join(bundle, "rootfs");
    let rootfsMounted = false;
    if (r.rootfs.length > 0) {
      await Deno.mkdir(rootfs, { recursive: true });
      await mountAll(r.rootfs, rootfs);
      rootfsMounted = true;
    }
    let stdio: ProcessStdio | undefined;
    try {
      stdio = ProcessStdio.open(r.stdin, r.stdout, r.stderr);
      const extra = opts?.noPivotRoot ? ["--no-pivot"] : [];
      const pid = await runc.create(
        r.id,
        bundle,
        join(bundle, "init.pid"),
        stdio.fds,
        extra,
      );
      stdio.closeHanded();
      const init: InitProcess = {
        id: r.id,
        bundle,
        pid,
        stdin: r.stdin,
        stdout: r.stdout,
        stderr: r.stderr,
        stdio,
        runc,
        rootfsMounted,
        deleted: false,
        exited: waitForExit(pid).then(async (exit) => {
          init.exit = exit;
          stdio?.close();
          await writeExitFile(bundle, exit).catch(() => {});
          return exit;
        }),
      };
      this.#init = init;
      return { pid };
    } catch (err) {
      stdio?.close();
      if (rootfsMounted) await unmountAll(rootfs).catch(() => {});
      throw err;
    }
  }

  /** State: runc's view, or stopped with the recorded exit. */
  async state(r: StateRequest) {
    const init = this.#get(r.id, r.execId);
    let status = Status.UNKNOWN;
    if (init.exit || init.deleted) {
      status = Status.STOPPED;
    } else {
      try {
        const s = await init.runc.state(init.id);
        status = RUNC_STATUS[s.status] ?? Status.UNKNOWN;
      } catch (err) {
        if (!BerthError.is(err, Code.NotFound)) throw err;
        status = Status.STOPPED;
      }
    }
    return {
      id: init.id,
      bundle: init.bundle,
      pid: init.pid,
      status,
      stdin: init.stdin,
      stdout: init.stdout,
      stderr: init.stderr,
      terminal: false,
      exitStatus: init.exit?.status ?? 0,
      exitedAt: init.exit ? timestampFromDate(init.exit.exitedAt) : undefined,
      execId: "",
    };
  }

  /** Kill: `runc kill`; an exited process is `NotFound`. */
  async kill(r: KillRequest): Promise<Record<string, never>> {
    const init = this.#get(r.id, r.execId);
    if (init.exit && !r.all) {
      throw new BerthError(Code.NotFound, "process already finished");
    }
    await init.runc.kill(init.id, r.signal, r.all);
    return {};
  }

  /** Delete: `runc delete`, unmounts the rootfs, returns the exit. */
  async delete(r: DeleteRequest) {
    const init = this.#get(r.id, r.execId);
    if (!init.exit) {
      let status = "";
      try {
        status = (await init.runc.state(init.id)).status;
      } catch {
        // gone already
      }
      if (status === "running" || status === "paused") {
        throw new BerthError(
          Code.FailedPrecondition,
          `task ${init.id} is ${status}`,
        );
      }
    }
    try {
      await init.runc.delete(init.id, !init.exit);
    } catch (err) {
      if (!BerthError.is(err, Code.NotFound)) throw err;
    }
    const exit = init.exit ?? await init.exited;
    if (init.rootfsMounted) {
      await unmountAll(join(init.bundle, "rootfs"));
      init.rootfsMounted = false;
    }
    init.deleted = true;
    return {
      pid: init.pid,
      exitStatus: exit.status,
      exitedAt: timestampFromDate(exit.exitedAt),
    };
  }

  #get(id: string, execId: string): InitProcess {
    if (execId) unimplementedSync("exec processes");
    const init = this.#init;
    if (!init || (id && id !== init.id)) {
      throw new BerthError(Code.NotFound, `task ${id}`);
    }
    return init;
  }
}

function unimplementedSync(what: string): never {
  throw new BerthError(Code.Unimplemented, `shim: ${what}`);
}

function unimplemented(what: string): Promise<never> {
  return Promise.reject(new BerthError(Code.Unimplemented, `shim: ${what}`));
}
