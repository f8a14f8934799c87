/**
 * One daemon as the real `ctr` drives it in the benchmarks: busybox
 * imported into the bench namespace, containers run and removed, its shims
 * found, and what `/proc` says of its processes. What is measured goes
 * through `ctr`; the bookkeeping around it (which tasks run, removing what
 * is left) goes through berth's client library, which spawns no process.
 *
 * @module
 */
import { join } from "node:path";
import { CoreClient, isNotFound } from "../src/client/mod.ts";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";
import { type CommandResult, run as command } from "../tests/_harness.ts";
import type { BenchDaemon } from "./_daemons.ts";

/** The image every container runs. */
export const IMAGE = "docker.io/library/busybox:latest";
/** The namespace of the benchmarks. */
export const NAMESPACE = "bench";

/** One daemon as `ctr` drives it. */
export class Side {
  readonly daemon: BenchDaemon;
  readonly fifos: string;
  /** The client library on this daemon, in the bench namespace. */
  readonly client: CoreClient;

  constructor(daemon: BenchDaemon, fifos: string) {
    this.daemon = daemon;
    this.fifos = fifos;
    this.client = new CoreClient({
      address: daemon.address,
      namespace: NAMESPACE,
    });
  }

  get name(): string {
    return this.daemon.name;
  }

  /**
   * `ctr ARGS…` against this daemon. A daemon starved of CPU by fifty
   * starting shims may not answer a connection within ctr's default 10 s;
   * the bench waits (tests/scale_test.ts is where that counts as failure).
   */
  ctr(args: string[]): Promise<CommandResult> {
    return command("ctr", [
      "--address",
      this.daemon.address,
      "--namespace",
      NAMESPACE,
      "--connect-timeout",
      "60s",
      ...args,
    ]);
  }

  /** `ctr ARGS…`, throwing on failure. */
  async must(args: string[]): Promise<CommandResult> {
    const out = await this.ctr(args);
    if (out.code !== 0) {
      throw new Error(
        `${this.name}: ctr ${args.join(" ")}: ${out.stderr.trim()}`,
      );
    }
    return out;
  }

  /**
   * `ctr run` arguments up to the image: the fifo directory, and for
   * containerd a runc root inside its temporary directory (its default is
   * under /run/containerd; berth's is already under its state).
   */
  runArgs(...flags: string[]): string[] {
    const runcRoot = this.name === "containerd"
      ? ["--runc-root", join(this.daemon.dir, "runc")]
      : [];
    return ["run", "--fifo-dir", this.fifos, ...runcRoot, ...flags, IMAGE];
  }

  /** Kills and removes the task and container `id`. */
  async remove(id: string): Promise<void> {
    await this.must(["tasks", "rm", "-f", id]);
    await this.must(["containers", "rm", id]);
  }

  /** Removes whatever containers are left, ignoring failures. */
  async removeAll(): Promise<void> {
    try {
      const { containers } = await this.client.service(Containers).list({});
      await Promise.all(
        containers.map(({ id }) => this.#forceRemove(id).catch(() => {})),
      );
    } catch {
      // The daemon does not answer: nothing to remove through it.
    }
  }

  /** Kills container `id`'s task (if any), deletes it, then the container. */
  async #forceRemove(id: string): Promise<void> {
    const container = await this.client.loadContainer(id);
    const task = await container.task().catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (task) {
      const exited = task.wait();
      // It may have exited already; the wait says when it has.
      await task.kill(9, { all: true }).catch(() => {});
      await exited;
      await task.delete();
    }
    await container.delete();
  }

  /** Ids of the tasks that run. */
  async running(): Promise<Set<string>> {
    const { tasks } = await this.client.service(Tasks).list({});
    return new Set(
      tasks.filter((task) => task.status === Status.RUNNING)
        .map((task) => task.id),
    );
  }

  /**
   * The pids of this daemon's shims: processes whose arguments are
   * containerd's shim contract (`-namespace NS -id ID -address DAEMON`)
   * naming this daemon. (containerd 1.6's runc shim writes no `shim.pid`,
   * so both sides are found the same way.)
   */
  async shimPids(): Promise<number[]> {
    const pids: number[] = [];
    for await (const entry of Deno.readDir("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid)) continue;
      let argv: string[];
      try {
        argv = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
      } catch {
        continue; // gone while we looked
      }
      const flag = (name: string) => argv[argv.indexOf(name) + 1];
      if (
        argv.includes("-id") &&
        flag("-address") === this.daemon.address &&
        flag("-namespace") === NAMESPACE
      ) {
        pids.push(pid);
      }
    }
    return pids;
  }
}

/** A `/proc/PID/…` field in kB, as MB. */
export async function procMB(path: string, field: string): Promise<number> {
  const text = await Deno.readTextFile(path);
  const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!match) throw new Error(`no ${field} in ${path}`);
  return Number(match[1]) / 1024;
}

/** Imports busybox into the daemon's bench namespace; returns its side. */
export async function prepareSide(
  daemon: BenchDaemon,
  archive: string,
  scratch: string,
): Promise<Side> {
  const fifos = join(scratch, `fifo-${daemon.name}`);
  await Deno.mkdir(fifos);
  const side = new Side(daemon, fifos);
  await side.must(["images", "import", archive]);
  return side;
}
