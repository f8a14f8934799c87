/**
 * {@linkcode Container}: a container record of the daemon, and its task.
 *
 * @module
 */
import {
  type Container as ContainerRecord,
  Containers,
} from "../gen/containerd/services/containers/v1/containers_pb.ts";
import { Tasks } from "../gen/containerd/services/tasks/v1/tasks_pb.ts";
import type { Spec } from "../oci/spec.ts";
import type { CoreClient as Client } from "./core.ts";
import { InvalidArgumentError, isNotFound } from "./errors.ts";
import { NULL_IO } from "./fifos.ts";
import { Snapshotter } from "./snapshots.ts";
import { type IOOptions, openIO, Task } from "./task.ts";

/**
 * The type URL of an OCI runtime spec in an `Any`.
 *
 * @example
 * ```ts
 * import { SPEC_TYPE_URL } from "@berth/berth/client";
 * console.log(SPEC_TYPE_URL);
 * ```
 */
export const SPEC_TYPE_URL =
  "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/**
 * The runtime containerd runs containers with by default.
 *
 * @example
 * ```ts
 * import { DEFAULT_RUNTIME } from "@berth/berth/client";
 * console.log(DEFAULT_RUNTIME); // "io.containerd.runc.v2"
 * ```
 */
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

/**
 * The container label holding the image's stop signal.
 *
 * @example
 * ```ts
 * import { Client, STOP_SIGNAL_LABEL } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const c = await client.loadContainer("c1");
 * console.log(c.record.labels[STOP_SIGNAL_LABEL] ?? "SIGTERM");
 * ```
 */
export const STOP_SIGNAL_LABEL = "io.containerd.image.config.stop-signal";

/**
 * Options of {@linkcode Container.delete}.
 *
 * @example
 * ```ts
 * import type { DeleteContainerOptions } from "@berth/berth/client";
 * const options: DeleteContainerOptions = { snapshotCleanup: false };
 * ```
 */
export interface DeleteContainerOptions {
  /** Also remove the container's snapshot (default true). */
  snapshotCleanup?: boolean;
}

/**
 * A container of the daemon.
 *
 * @example
 * ```ts
 * import { Client } from "@berth/berth/client";
 * const client = new Client({ address: "/run/berth/berth.sock" });
 * const container = await client.loadContainer("c1");
 * console.log(container.record.image, container.spec().process?.args);
 * ```
 */
export class Container {
  /** Its id. */
  readonly id: string;
  /** The record as the daemon sent it. */
  readonly record: ContainerRecord;
  readonly #client: Client;

  /** The container `record` of `client`'s daemon. */
  constructor(client: Client, record: ContainerRecord) {
    this.#client = client;
    this.record = record;
    this.id = record.id;
  }

  /** Its OCI runtime spec. */
  spec(): Spec {
    const value = this.record.spec?.value;
    if (!value?.length) throw new InvalidArgumentError("container has no spec");
    return JSON.parse(new TextDecoder().decode(value));
  }

  /**
   * Creates its task, with the container's snapshot as root filesystem
   * and stdio as `options` say (not started yet).
   */
  async newTask(options: IOOptions = {}): Promise<Task> {
    const { snapshotter, snapshotKey } = this.record;
    let rootfs: { type: string; source: string; options: string[] }[] = [];
    if (snapshotKey) {
      if (!snapshotter) {
        throw new InvalidArgumentError(
          "unable to resolve rootfs mounts without snapshotter on container: invalid argument",
        );
      }
      rootfs = await new Snapshotter(this.#client, snapshotter).mounts(
        snapshotKey,
      );
    }
    const terminal = Boolean(options.terminal);
    const io = await openIO(this.id, options);
    const task = new Task(
      this.#client,
      { containerId: this.id, execId: "" },
      io,
      options.stdio,
    );
    task.copyIO();
    try {
      const { pid } = await this.#client.service(Tasks).create({
        containerId: this.id,
        rootfs: rootfs.map((m) => ({ ...m, target: "" })),
        ...(io?.paths ?? { ...NULL_IO, terminal }),
      });
      task.pid = pid;
      return task;
    } catch (err) {
      await io?.[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Its existing task, attached to the FIFOs or streams of `options`. */
  async task(options: IOOptions = {}): Promise<Task> {
    const { process } = await this.#client.service(Tasks).get({
      containerId: this.id,
    });
    const io = await openIO(this.id, options);
    return new Task(
      this.#client,
      { containerId: this.id, execId: "", pid: process?.pid ?? 0 },
      io,
      options.stdio,
    );
  }

  /**
   * Deletes the record and (by default) its snapshot first, as
   * containerd's `Delete` with `WithSnapshotCleanup`.
   */
  async delete(options: DeleteContainerOptions = {}): Promise<void> {
    const { snapshotter, snapshotKey } = this.record;
    if ((options.snapshotCleanup ?? true) && snapshotKey) {
      if (!snapshotter) {
        throw new InvalidArgumentError(
          "container.Snapshotter must be set to cleanup rootfs snapshot: invalid argument",
        );
      }
      await new Snapshotter(this.#client, snapshotter).remove(snapshotKey)
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
    }
    await this.#client.service(Containers).delete({ id: this.id });
  }
}
