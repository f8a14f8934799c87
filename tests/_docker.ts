/**
 * Docker Engine in integration tests: Debian's `dockerd` on private paths
 * (data root, exec root, pid file, API socket, cgroup parent, no bridge and
 * no iptables) driving a container runtime daemon through
 * `--containerd`, and Debian's `docker` client, every command bounded in
 * time. The runtime daemon is berth, or a real containerd for comparison.
 *
 * containerd's runc shim puts its socket in `/run/containerd/s/` whatever
 * containerd's own paths are, so that containerd (and its dockerd, which
 * must see the same mounts) runs in a private mount namespace with a
 * tmpfs over `/run`: nothing of it reaches the host's `/run`.
 *
 * @module
 */
import {
  collect,
  type CommandResult,
  removeTestDir,
  run,
  startContainerd,
  startDaemon,
  type Stdin,
} from "./_harness.ts";
import { reapShimsAndRunc } from "./_containers.ts";

/** Debian's docker client, the same version as its `dockerd`. */
export const DOCKER = "/usr/bin/docker";

/** Which daemon dockerd drives. */
export type BackendKind = "berth" | "containerd";

/** A runtime daemon that dockerd drives, restartable on the same paths. */
export interface Backend extends AsyncDisposable {
  /** "berth" or "containerd". */
  kind: BackendKind;
  /** Its socket. */
  address: string;
  /** Runs the real `ctr` against it. */
  ctr(args: string[]): Promise<CommandResult>;
  /** Prefix that runs a command where the daemon's mounts are visible. */
  prefix: string[];
  /** Kills the daemon with SIGKILL and starts it again on the same paths. */
  killAndRestart(): Promise<void>;
  /** Kills whatever the daemon's containers left (the last resort). */
  reap(): Promise<void>;
}

/** Starts berth, or containerd in a private mount namespace. */
export async function startBackend(kind: BackendKind): Promise<Backend> {
  return kind === "berth" ? await startBerth() : await startNamespacedCtrd();
}

async function startBerth(): Promise<Backend> {
  let daemon = await startDaemon();
  return {
    kind: "berth",
    get address() {
      return daemon.address;
    },
    ctr: (args) => daemon.ctr(args),
    prefix: [],
    async killAndRestart() {
      daemon.process.kill("SIGKILL");
      await daemon.process.status;
      daemon = await startDaemon({ dir: daemon.dir });
    },
    reap: () => reapShimsAndRunc(daemon),
    [Symbol.asyncDispose]: () => daemon[Symbol.asyncDispose](),
  };
}

async function startNamespacedCtrd(): Promise<Backend> {
  const holder = await holdMountNamespace();
  const prefix = ["nsenter", "-t", String(holder.pid), "-m", "--"];
  const started = await startContainerd({ prefix });
  if (!started) throw new Error("containerd is not installed");
  let containerd = started;
  return {
    kind: "containerd",
    address: containerd.address,
    ctr: (args) => containerd.ctr(args),
    prefix,
    async killAndRestart() {
      containerd.process.kill("SIGKILL");
      await containerd.process.status;
      containerd = (await startContainerd({ dir: containerd.dir, prefix }))!;
    },
    reap: () => holder.killMembers(),
    async [Symbol.asyncDispose]() {
      await containerd[Symbol.asyncDispose]();
      await holder.killMembers();
      await holder[Symbol.asyncDispose]();
    },
  };
}

/** A process holding a private mount namespace with a tmpfs on `/run`. */
interface MountNamespace extends AsyncDisposable {
  /** The holder's pid (for `nsenter -t PID -m`). */
  pid: number;
  /** SIGKILLs every other process in the namespace. */
  killMembers(): Promise<void>;
}

async function holdMountNamespace(): Promise<MountNamespace> {
  const child = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      "mount -t tmpfs -o mode=0755 tmpfs /run && echo ready && exec sleep 86400",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = collect(child.stdout);
  try {
    await out.waitFor(/ready/);
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    throw err;
  }
  const namespace = await Deno.readLink(`/proc/${child.pid}/ns/mnt`);
  const killMembers = async () => {
    for await (const entry of Deno.readDir("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid) || pid === child.pid) continue;
      try {
        if (await Deno.readLink(`/proc/${pid}/ns/mnt`) === namespace) {
          Deno.kill(pid, "SIGKILL");
        }
      } catch { /* gone, or not ours to read */ }
    }
  };
  return {
    pid: child.pid,
    killMembers,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/** Options for {@linkcode startDockerd}. */
export interface DockerdOptions {
  /** The daemon it drives. */
  backend: Backend;
  /** `--containerd-namespace` (its plugins namespace is `NS-plugins`). */
  namespace: string;
  /** A plain-HTTP registry, `127.0.0.1:PORT`. */
  registry: string;
}

/** Options for one docker command. */
export interface DockerCommandOptions {
  /** What the command reads on stdin. */
  stdin?: Stdin;
  /** Fail (after killing the client) when it has not ended by then. */
  timeoutMs?: number;
}

/** A dockerd started for one test. */
export interface TestDockerd extends AsyncDisposable {
  /** Its private directory. */
  dir: string;
  /** The environment that points a docker client at it. */
  env: Record<string, string>;
  /** Runs the docker client against it; throws when it times out. */
  docker(
    args: string[],
    options?: DockerCommandOptions,
  ): Promise<CommandResult>;
  /** Stops dockerd (SIGTERM) and starts it again on the same paths. */
  restart(): Promise<void>;
  /** Stops dockerd with SIGTERM (its containers live on). */
  stop(): Promise<void>;
  /** Starts the stopped dockerd again on the same paths. */
  start(): Promise<void>;
  /** dockerd's log so far. */
  log(): Promise<string>;
}

/**
 * Starts dockerd with `--live-restore` on a new private directory and
 * waits until it answers.
 */
export async function startDockerd(
  options: DockerdOptions,
): Promise<TestDockerd> {
  const dir = await Deno.makeTempDir({ prefix: "berth-docker-" });
  const cgroupParent = `/${dir.split("/").at(-1)}`;
  await Deno.writeTextFile(`${dir}/daemon.json`, "{}\n");
  await Deno.mkdir(`${dir}/client`);
  const socket = `${dir}/docker.sock`;
  const env = {
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: `${dir}/client`,
  };
  const docker = (
    args: string[],
    { stdin, timeoutMs = 60_000 }: DockerCommandOptions = {},
  ) => run(DOCKER, args, { stdin, env, timeoutMs });
  const args = [
    ...options.backend.prefix,
    "dockerd",
    "--containerd",
    options.backend.address,
    "--containerd-namespace",
    options.namespace,
    "--containerd-plugins-namespace",
    `${options.namespace}-plugins`,
    "--data-root",
    `${dir}/data`,
    "--exec-root",
    `${dir}/exec`,
    "--pidfile",
    `${dir}/docker.pid`,
    "--config-file",
    `${dir}/daemon.json`,
    "-H",
    `unix://${socket}`,
    "--bridge=none",
    "--iptables=false",
    "--ip6tables=false",
    "--ip-masq=false",
    "--userland-proxy=false",
    "--live-restore",
    "--cgroup-parent",
    cgroupParent,
    "--insecure-registry",
    options.registry,
  ];
  const start = async () => {
    // The shell appends dockerd's output to its log file itself: dockerd
    // must not depend on this process's pipes (it outlives a failed test's
    // reads, and a full pipe would stall it).
    const child = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >> "$0" 2>&1', `${dir}/dockerd.log`, ...args],
      stdin: "null",
    }).spawn();
    let exited = false;
    child.status.then(() => exited = true);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) {
        throw new Error(`dockerd exited:\n${await readLog()}`);
      }
      const info = await docker(["version"]);
      if (info.code === 0) return child;
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`dockerd did not answer:\n${await readLog()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const readLog = () => Deno.readTextFile(`${dir}/dockerd.log`);
  let process = await start();
  const stop = async () => {
    try {
      process.kill("SIGTERM");
    } catch { /* already gone */ }
    await process.status;
  };
  return {
    dir,
    env,
    docker,
    stop,
    async start() {
      process = await start();
    },
    async restart() {
      await stop();
      process = await start();
    },
    log: readLog,
    async [Symbol.asyncDispose]() {
      const ids = await docker(["ps", "-aq"]).catch(() => undefined);
      for (const id of ids?.stdout.split("\n").filter(Boolean) ?? []) {
        await docker(["rm", "-f", id]).catch(() => {});
      }
      await stop();
      for (const ns of [options.namespace, `${options.namespace}-plugins`]) {
        await removeTasks(options.backend, ns);
      }
      await options.backend.reap();
      await removeCgroups(cgroupParent);
      await removeTestDir(dir);
    },
  };
}

/** Kills and deletes every task and container of a namespace. */
async function removeTasks(backend: Backend, namespace: string) {
  const listed = await backend.ctr(["-n", namespace, "containers", "ls", "-q"]);
  for (const id of listed.stdout.split("\n").filter(Boolean)) {
    await backend.ctr(["-n", namespace, "tasks", "kill", "-s", "SIGKILL", id]);
    await backend.ctr(["-n", namespace, "tasks", "rm", "-f", id]);
    await backend.ctr(["-n", namespace, "containers", "rm", id]);
  }
}

/** Removes the cgroup dockerd made its containers' parent (v1 or v2). */
async function removeCgroups(parent: string) {
  const dirs = [`/sys/fs/cgroup${parent}`];
  for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
    dirs.push(`/sys/fs/cgroup/${entry.name}${parent}`);
  }
  for (const dir of dirs) await Deno.remove(dir).catch(() => {});
}
