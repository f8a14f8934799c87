/**
 * Starting and loading shims, and sharing them between tasks.
 *
 * One shim process supervises a group of containers, as containerd's runc
 * shim does for the containers that name the same group. For berth's own
 * shim the daemon chooses the group itself ({@linkcode ShimManager.acquire}):
 * a group's running shim takes the next task until it holds `maxTasks`,
 * then a fresh one starts. A containerd shim binary is asked with its
 * `start` action, which answers with its group's address; tasks whose
 * shims answer at the same address share one connection.
 *
 * A group's shim left without tasks lingers for `lingerMs` before it is
 * shut down, so that a group whose containers come and go one at a time
 * (`ctr run --rm` after `ctr run --rm`) does not start a shim for each.
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { Task } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { TtrpcClient } from "../ttrpc/client.ts";
import { ttrpcTransport } from "../ttrpc/transport.ts";
import type { Bundle, ShimAddress } from "./bundle.ts";
import {
  releaseShimLog,
  sharedShimSocket,
  type ShimCommand,
  startShim,
  type StartShimOptions,
} from "./shim_process.ts";

/** A running shim the daemon is connected to. */
export class Shim {
  /** Its ttrpc socket. */
  readonly address: string;
  /** The task API it serves. */
  readonly api: Client<typeof Task>;
  /**
   * The group it was started for, which later tasks of the group may join;
   * undefined for a shim no other task joins by group.
   */
  readonly group: string | undefined;
  /** The tasks (`namespace/id`) it serves, including ones being created. */
  readonly tasks = new Set<string>();
  readonly #connection: TtrpcClient;
  #released = false;
  /** While it lingers without tasks: the timer that shuts it down. */
  idleTimer: ReturnType<typeof setTimeout> | undefined;

  /** Wraps `connection` to the shim at `address`. */
  constructor(address: string, connection: TtrpcClient, group?: string) {
    this.address = address;
    this.#connection = connection;
    this.api = createClient(Task, ttrpcTransport(connection));
    this.group = group;
  }

  /** Whether the daemon has let go of it (its going is no death). */
  get released(): boolean {
    return this.#released;
  }

  /** Resolves once the connection has ended (the shim exited or died). */
  get ended(): Promise<unknown> {
    return this.#connection.ended;
  }

  /**
   * Lets go of the shim: it may exit now without that being a death; with
   * `shutdown`, asks it to exit first (it does once it serves no task).
   */
  async release(shutdown?: { id: string }): Promise<void> {
    this.#released = true;
    if (shutdown) await this.api.shutdown(shutdown).catch(() => {});
    await this.#connection.close();
  }
}

/** What a task needs of a shim. */
export interface ShimRequest {
  /** The shim to run. */
  shim: ShimCommand;
  /** The runtime's name (shims are never shared across runtimes). */
  runtime: string;
  /** The task's bundle. */
  bundle: Bundle;
  /**
   * The group the task belongs to, or undefined for a shim of its own
   * (berth's shim only: a containerd shim groups by itself).
   */
  group: string | undefined;
  /** The most tasks a shared shim serves. */
  maxTasks: number;
  /** How long a group's shim without tasks waits for another (0: none). */
  lingerMs: number;
}

/** Options for {@linkcode ShimManager}. */
export interface ShimManagerOptions {
  /** The daemon's state directory (group shims' sockets are below). */
  state: string;
  /** The daemon's socket, handed to shims. */
  daemonAddress: string;
  /** The daemon's ttrpc socket, where shims forward their events. */
  ttrpcAddress: string;
  /** Called when a shim not released dies (its connection ended). */
  onDeath: (shim: Shim) => void;
}

/** The shims the daemon is connected to. */
export class ShimManager {
  readonly #options: ShimManagerOptions;
  /** Connected shims by socket. */
  readonly #shims = new Map<string, Shim>();
  /** Shims being launched, by group key. */
  readonly #launching = new Map<string, Promise<void>>();

  /** Creates the manager. */
  constructor(options: ShimManagerOptions) {
    this.#options = options;
  }

  /** How to run `request.shim` for the task of `bundle`. */
  startOptions(shim: ShimCommand, bundle: Bundle): StartShimOptions {
    return {
      shim,
      bundle: bundle.path,
      namespace: bundle.namespace,
      id: bundle.id,
      daemonAddress: this.#options.daemonAddress,
      ttrpcAddress: this.#options.ttrpcAddress,
    };
  }

  /**
   * A shim for the task of `request.bundle`: its group's running shim if
   * one has room, else a fresh one. The task counts as the shim's from
   * here; {@linkcode ShimManager.release} gives it back.
   */
  async acquire(request: ShimRequest): Promise<Shim> {
    const key = taskKey(request.bundle);
    const group = request.shim.builtin && request.group !== undefined
      ? `${request.runtime}\0${request.bundle.namespace}\0${request.group}`
      : undefined;
    if (group === undefined) {
      return this.#join(await this.#start(request, undefined), key);
    }
    for (;;) {
      const shim = this.#withRoom(group, request.maxTasks);
      if (shim) return this.#join(shim, key);
      const launching = this.#launching.get(group);
      if (launching) {
        await launching.catch(() => {});
        continue;
      }
      const started = this.#start(request, group);
      this.#launching.set(group, started.then(() => {}));
      try {
        return this.#join(await started, key);
      } finally {
        this.#launching.delete(group);
      }
    }
  }

  /**
   * The shim at `address`, found again after a restart: one connection for
   * every task it serves, and its group's next tasks join it. A shim that
   * cannot be reached rejects.
   */
  async load(address: ShimAddress, bundle: Bundle): Promise<Shim> {
    const known = this.#shims.get(address.socket);
    if (known) return this.#join(known, taskKey(bundle));
    const shim = await this.#connect(address.socket, address.group);
    return this.#join(shim, taskKey(bundle));
  }

  /**
   * The task of `bundle` is gone from `shim`. A shim left without tasks
   * is shut down (it exits once it has none) and disconnected: a group's
   * shim after `lingerMs`, unless another task of the group joined it.
   */
  async release(
    shim: Shim,
    bundle: Bundle,
    lingerMs: number = 0,
  ): Promise<void> {
    shim.tasks.delete(taskKey(bundle));
    if (shim.tasks.size > 0 || shim.released) return;
    if (shim.group !== undefined && lingerMs > 0) {
      shim.idleTimer = setTimeout(() => {
        shim.idleTimer = undefined;
        if (shim.tasks.size === 0) this.#retire(shim, bundle.id);
      }, lingerMs);
      return;
    }
    await this.#retire(shim, bundle.id);
  }

  async #retire(shim: Shim, id: string): Promise<void> {
    if (shim.released) return;
    this.#shims.delete(shim.address);
    await shim.release({ id });
  }

  /**
   * Disconnects from every shim: those with tasks keep running, those
   * lingering without any are shut down.
   */
  async close(): Promise<void> {
    const shims = [...this.#shims.values()];
    this.#shims.clear();
    for (const shim of shims) {
      const idle = shim.idleTimer !== undefined;
      clearTimeout(shim.idleTimer);
      await shim.release(idle ? { id: "" } : undefined);
    }
  }

  #withRoom(group: string, maxTasks: number): Shim | undefined {
    for (const shim of this.#shims.values()) {
      if (
        shim.group === group && !shim.released && shim.tasks.size < maxTasks
      ) return shim;
    }
    return undefined;
  }

  #join(shim: Shim, key: string): Shim {
    clearTimeout(shim.idleTimer);
    shim.idleTimer = undefined;
    shim.tasks.add(key);
    return shim;
  }

  async #start(request: ShimRequest, group: string | undefined) {
    const options = this.startOptions(request.shim, request.bundle);
    if (group !== undefined) {
      options.socket = await sharedShimSocket(this.#options.state, group);
    }
    const address = await startShim(options);
    // A containerd shim's `start` may answer with a shim already serving
    // its group, which logs elsewhere.
    const known = this.#shims.get(address);
    if (!known) return await this.#connect(address, group);
    releaseShimLog(options);
    return known;
  }

  async #connect(address: string, group: string | undefined): Promise<Shim> {
    const shim = new Shim(address, await TtrpcClient.connect(address), group);
    const known = this.#shims.get(address);
    if (known) {
      // Another task connected first.
      await shim.release();
      return known;
    }
    this.#shims.set(address, shim);
    shim.ended.then(() => {
      if (shim.released) return;
      if (this.#shims.get(address) === shim) this.#shims.delete(address);
      this.#options.onDeath(shim);
    });
    return shim;
  }
}

/** How a shim knows a task. */
export function taskKey(bundle: Pick<Bundle, "namespace" | "id">): string {
  return `${bundle.namespace}/${bundle.id}`;
}
