/**
 * Integration test harness: a real daemon on private temporary paths, the
 * real `ctr` and `berth ctr` pointed at it, and cleanup that runs even when
 * a test fails.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { CoreClient } from "../src/client/core.ts";
import { NamespaceUpdateSchema } from "../src/gen/containerd/events/namespace_pb.ts";
import { Events } from "../src/gen/containerd/services/events/v1/events_pb.ts";
import { unmountRecursive } from "../src/mount/mod.ts";
import { removeNamespaceCgroups } from "./_cgroups.ts";
import { networkConfig } from "./_network_config.ts";

const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));

// Each test names the namespace of every client it runs (its daemon's own,
// see TestDaemon.namespace): the caller's choice must change nothing.
Deno.env.delete("CONTAINERD_NAMESPACE");
Deno.env.delete("BERTH_NAMESPACE");

/** The namespaces this process's tests were given (their cgroups go with them). */
const givenNamespaces = new Set<string>();

/**
 * A containerd namespace no other test uses, in this run or in another on
 * the machine: `bt-LABEL-` and 12 random hex digits. ctr puts a container in
 * cgroup `/NAMESPACE/ID`, which is the machine's, not the daemon's: two
 * tests with one namespace and container id would share it.
 */
export function uniqueNamespace(label: string): string {
  return giveNamespace(
    `bt-${label}-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`,
  );
}

/** The namespace of the daemon in `dir`: the same after a restart on it. */
function namespaceOf(dir: string): string {
  const hash = createHash("sha256").update(dir).digest("hex");
  return giveNamespace(`bt-${hash.slice(0, 12)}`);
}

function giveNamespace(namespace: string): string {
  givenNamespaces.add(namespace);
  return namespace;
}

/**
 * `namespace` and every namespace given to this process's tests in which
 * the daemon with state directory `state` keeps bundles or runc state.
 */
async function namespacesWithContainers(
  state: string,
  namespace: string,
): Promise<Set<string>> {
  const found = new Set([namespace]);
  for (const dir of ["io.containerd.runtime.v2.task", "runc"]) {
    try {
      for await (const entry of Deno.readDir(`${state}/${dir}`)) {
        if (givenNamespaces.has(entry.name)) found.add(entry.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return found;
}

/** What a finished command printed and returned. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options for {@linkcode startDaemon}. */
export interface TestDaemonOptions {
  /** Reuse these paths (to restart a daemon on the same root). */
  dir?: string;
  /** TOML written to a config file the daemon reads. */
  config?: string;
  /** The daemon's log level (default `warn`). */
  logLevel?: string;
  /** Keep the daemon's log in {@linkcode TestDaemon.log} (else inherited). */
  captureLog?: boolean;
  /** Extra environment (e.g. `BERTH_CRASH_AT`, see src/types/crash_point.ts). */
  env?: Record<string, string>;
  /**
   * The namespace `ctr` and `berth ctr` use when not told another (default:
   * one of this daemon's own, the same on every daemon started on `dir`).
   */
  namespace?: string;
}

/** A daemon started for one test. */
export interface TestDaemon {
  /** Temporary directory holding root, state and socket. */
  dir: string;
  /** Root directory. */
  root: string;
  /** State directory. */
  state: string;
  /** Socket path. */
  address: string;
  /**
   * The test's namespace, no other test's: what `ctr` and `berth ctr` use
   * unless their arguments say `-n`, and what its clients should use.
   */
  namespace: string;
  /** The daemon process. */
  process: Deno.ChildProcess;
  /** Runs the real `ctr` against this daemon, in {@linkcode namespace}. */
  ctr(args: string[], options?: { stdin?: Stdin }): Promise<CommandResult>;
  /** Runs `berth ctr` against this daemon, in {@linkcode namespace}. */
  berth(args: string[], options?: { stdin?: Stdin }): Promise<CommandResult>;
  /** Stops the daemon with SIGTERM and waits; returns its exit code. */
  stop(): Promise<number>;
  /** The daemon's log so far, when started with `captureLog`. */
  log?: Collector;
  /**
   * Stops the daemon; kills what of the test is left (shims, processes in
   * its namespaces' cgroups); removes those cgroups and its directory.
   */
  [Symbol.asyncDispose](): Promise<void>;
}

const decoder = new TextDecoder();

/** What a command reads on stdin: text, or a file's bytes streamed. */
export type Stdin = string | { file: string };

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** What the command reads on stdin (nothing by default). */
  stdin?: Stdin;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** SIGKILL the command and reject when it has not ended by then. */
  timeoutMs?: number;
}

/** Runs a command to completion, optionally feeding stdin. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  if (typeof options.stdin === "object") {
    // A redirect gives the command a seekable stdin, as `cmd < file` does:
    // ctr seeks stdin to resume an ingest.
    return await run(
      "sh",
      [
        "-c",
        'f=$1; shift; exec "$@" < "$f"',
        "sh",
        options.stdin.file,
        cmd,
        ...args,
      ],
      { env: options.env, timeoutMs: options.timeoutMs },
    );
  }
  const child = new Deno.Command(cmd, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin)).catch(
      () => {},
    );
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  clearTimeout(timer);
  if (timedOut) {
    throw new Error(
      `${cmd} ${args.join(" ")}: not ended after ${options.timeoutMs} ms`,
    );
  }
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * The arguments after `Deno.execPath()` that run `berth ctr --address
 * ADDRESS [--namespace NAMESPACE] ARGS…`, for tests that spawn, pipe or
 * time the client: a test's daemon, or a bare address.
 */
export function berthCtrArgs(
  target: string | { address: string; namespace: string },
  args: string[],
): string[] {
  const where = typeof target === "string"
    ? ["--address", target]
    : ["--address", target.address, "--namespace", target.namespace];
  return ["run", "-A", MOD, "ctr", ...where, ...args];
}

/**
 * The arguments after `ctr` that run `ctr --address ADDRESS --namespace
 * NAMESPACE ARGS…` against a test's daemon, for tests that spawn, pipe or
 * stream the real client themselves.
 */
export function ctrArgs(
  side: { address: string; namespace: string },
  args: string[],
): string[] {
  return ["--address", side.address, "--namespace", side.namespace, ...args];
}

/** Runs `deno run -A mod.ts ARGS…`. */
export function berth(args: string[]): Promise<CommandResult> {
  return run(Deno.execPath(), ["run", "-A", MOD, ...args], {
    env: { NO_COLOR: "1" },
  });
}

async function waitForSocket(path: string, process: Deno.ChildProcess) {
  let exited = false;
  process.status.then(() => exited = true);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error("daemon exited during start-up");
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`daemon socket ${path} did not appear`);
}

/**
 * Removes a test's directory, unmounting whatever is still mounted below
 * it first: a recursive delete must never reach through a mount.
 */
export async function removeTestDir(dir: string): Promise<void> {
  await unmountRecursive(dir, { detach: true });
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Whether a process with `pid` exists (and is not a zombie). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/**
 * Live (not zombie) processes other than `except` whose command line names
 * `dir`, as `PID: COMMAND LINE`: a test's shims, and whatever they left.
 */
export async function processesNaming(
  dir: string,
  except?: number,
): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === except) continue;
    try {
      const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`))
        .replaceAll("\0", " ");
      if (cmdline.includes(dir) && await isAlive(pid)) {
        found.push(`${pid}: ${cmdline.trim()}`);
      }
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/**
 * Kills what of a test is left once its daemon is stopped: processes that
 * name its directory (shims outlive their daemon by design), then whatever
 * is in its namespaces' cgroups; then removes those and the directory.
 * Container processes left are told on stderr, not thrown: disposal runs
 * after a failed test too, whose own error must stay the one reported.
 */
async function removeTestLeftovers(
  dir: string,
  namespaces: Iterable<string>,
): Promise<void> {
  try {
    for (const line of await processesNaming(dir)) {
      try {
        Deno.kill(Number(line.split(":")[0]), "SIGKILL");
      } catch { /* gone */ }
    }
    const problems = await removeNamespaceCgroups(namespaces);
    if (problems.length > 0) {
      console.error(`${dir}: the test's cgroups: ${problems.join("; ")}`);
    }
  } finally {
    await removeTestDir(dir);
  }
}

/** Starts `berth daemon` on fresh temporary paths. */
export async function startDaemon(
  options: TestDaemonOptions = {},
): Promise<TestDaemon> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "berth-test-" });
  const root = `${dir}/root`;
  const state = `${dir}/state`;
  const address = `${dir}/state/berth.sock`;
  const configPath = `${dir}/config.toml`;
  const namespace = options.namespace ?? namespaceOf(dir);
  // Every daemon gets a private network world unless the test sets its
  // own: a first network call would otherwise write the default network
  // into the host's /etc/cni/net.d.
  const config = options.config ?? "";
  await Deno.writeTextFile(
    configPath,
    /^\s*\[network\]/m.test(config)
      ? config
      : `${config}\n${networkConfig(dir).config}`,
  );
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MOD,
      "daemon",
      "--root",
      root,
      "--state",
      state,
      "--address",
      address,
      "--config",
      configPath,
      "--log-level",
      options.logLevel ?? "warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: options.captureLog ? "piped" : "inherit",
    env: options.env,
  }).spawn();
  const log = options.captureLog ? collect(process.stderr) : undefined;
  try {
    await waitForSocket(address, process);
  } catch (err) {
    try {
      process.kill("SIGKILL");
    } catch { /* already gone */ }
    await process.status;
    throw err;
  }
  let stopped: Promise<number> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      return (await process.status).code;
    })();
  return {
    dir,
    root,
    state,
    address,
    namespace,
    process,
    ctr: (args, opts) =>
      run("ctr", ["--address", address, ...args], {
        ...opts,
        env: { CONTAINERD_NAMESPACE: namespace },
      }),
    berth: (args, opts) =>
      run(Deno.execPath(), berthCtrArgs(address, args), {
        ...opts,
        env: { NO_COLOR: "1", BERTH_NAMESPACE: namespace },
      }),
    stop,
    log,
    async [Symbol.asyncDispose]() {
      await stop();
      await removeTestLeftovers(
        dir,
        await namespacesWithContainers(state, namespace),
      );
    },
  };
}

/** Text read so far from a stream that keeps being read in the background. */
export interface Collector {
  /** Everything read so far. */
  readonly text: string;
  /** Resolves when `pattern` appears, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Reads `stream` to its end in the background, keeping the text. */
export function collect(stream: ReadableStream<Uint8Array>): Collector {
  let text = "";
  (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
    }
  })().catch(() => {});
  return {
    get text() {
      return text;
    },
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${pattern}; got:\n${text}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Where containerd's runc shim keeps runc's state by default. */
const CONTAINERD_RUNC_ROOT = "/run/containerd/runc";

/** Options for {@linkcode startContainerd}. */
export interface TestContainerdOptions {
  /** Reuse these paths (to restart a containerd on the same root). */
  dir?: string;
  /**
   * A command that runs containerd (`["nsenter", "-t", PID, "-m", "--"]`
   * starts it in another process's mount namespace).
   */
  prefix?: string[];
  /** As {@linkcode TestDaemonOptions.namespace}. */
  namespace?: string;
}

/** A containerd started on private temporary paths, for comparisons. */
export interface TestContainerd {
  /** Temporary directory holding root, state and socket. */
  dir: string;
  /** Root directory. */
  root: string;
  /** Socket path. */
  address: string;
  /** As {@linkcode TestDaemon.namespace}. */
  namespace: string;
  /** The containerd process (or its prefix command's). */
  process: Deno.ChildProcess;
  /** Runs the real `ctr` against it, in {@linkcode namespace}. */
  ctr(args: string[], options?: { stdin?: Stdin }): Promise<CommandResult>;
  /** Stops it, removes its namespaces' cgroups and its directory. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts Debian's containerd on its own temporary root, state and socket
 * (never the host's), with the CRI plugin off. Undefined when containerd
 * is not installed.
 */
export async function startContainerd(
  options: TestContainerdOptions = {},
): Promise<TestContainerd | undefined> {
  const found = await run("sh", ["-c", "command -v containerd"]);
  if (found.code !== 0) return undefined;
  const dir = options.dir ??
    await Deno.makeTempDir({ prefix: "containerd-test-" });
  const address = `${dir}/containerd.sock`;
  const namespace = options.namespace ?? namespaceOf(dir);
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${address}"`,
      "[ttrpc]",
      `  address = "${dir}/containerd.sock.ttrpc"`,
      "[debug]",
      `  address = "${dir}/debug.sock"`,
    ].join("\n"),
  );
  const [cmd, ...prefixArgs] = [...options.prefix ?? [], "containerd"];
  const process = new Deno.Command(cmd, {
    args: [...prefixArgs, "--config", `${dir}/config.toml`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForSocket(address, process);
  } catch (err) {
    process.kill("SIGKILL");
    await process.status;
    throw err;
  }
  return {
    dir,
    root: `${dir}/root`,
    address,
    namespace,
    process,
    ctr: (args, opts) =>
      run("ctr", ["--address", address, ...args], {
        ...opts,
        env: { CONTAINERD_NAMESPACE: namespace },
      }),
    async [Symbol.asyncDispose]() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      await process.status;
      const namespaces = await namespacesWithContainers(
        `${dir}/state`,
        namespace,
      );
      try {
        await removeTestLeftovers(dir, namespaces);
      } finally {
        // Its runc shim keeps runc's state in RUNC_ROOT/NAMESPACE whatever
        // containerd's state directory: an empty one is the test's leftover.
        for (const ns of namespaces) {
          await Deno.remove(`${CONTAINERD_RUNC_ROOT}/${ns}`).catch(() => {});
        }
      }
    },
  };
}

/** A file of random bytes and its digest. */
export interface RandomFile {
  /** Its path. */
  path: string;
  /** `sha256:…` of its bytes. */
  digest: string;
  /** Its size. */
  size: number;
}

/** Writes `size` random bytes to a new file in `dir`. */
export async function randomFile(
  dir: string,
  size: number,
): Promise<RandomFile> {
  const { createHash, randomBytes } = await import("node:crypto");
  const path = `${dir}/random-${size}`;
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true });
  for (let left = size; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    await file.write(chunk);
    left -= chunk.length;
  }
  return { path, size, digest: `sha256:${hash.digest("hex")}` };
}

/** The sha256 digest of a command's stdout, streamed (for large outputs). */
export async function digestOfOutput(
  cmd: string,
  args: string[],
): Promise<{ code: number; digest: string; size: number; stderr: string }> {
  const { createHash } = await import("node:crypto");
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const hash = createHash("sha256");
  let size = 0;
  const stderr = new Response(child.stderr).text();
  for await (const chunk of child.stdout) {
    hash.update(chunk);
    size += chunk.length;
  }
  const { code } = await child.status;
  return {
    code,
    digest: `sha256:${hash.digest("hex")}`,
    size,
    stderr: await stderr,
  };
}

/**
 * ctr output with what legitimately differs between two daemons made
 * equal: the given root paths, snapshot ids, ages, times, column padding,
 * and the order of `k=v,k=v` label lists (Go prints maps in random order).
 */
export function normalizeCtr(
  text: string,
  roots: readonly string[] = [],
): string {
  let out = text;
  for (const root of roots) out = out.replaceAll(root, "ROOT");
  const sortLabels = (list: string) => list.split(",").sort().join(",");
  return out
    .replace(/\S+=[^\s,]*(,\S+=[^\s,]*)+/g, sortLabels)
    .replace(/\/snapshots\/\d+\//g, "/snapshots/N/")
    .replace(
      /Less than a second|About a minute|\d+ (seconds?|minutes?)/g,
      "AGE",
    )
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "TIME")
    .replace(/[ \t]+/g, " ")
    .trim();
}

/** `ctr events` running against a daemon; its output so far. */
export interface EventWatch extends Collector, AsyncDisposable {
  /** The topics printed so far, in order, that match `prefix`. */
  topics(prefix: string): string[];
}

/** The topic of the event that tells a watch it is subscribed. */
const WATCH_PROBE_TOPIC = "/berth-test/subscribed";

/**
 * Starts `ctr events` against the daemon at `address` and waits until it is
 * subscribed; disposing stops it. ctr prints nothing when it has
 * subscribed, so an event is published (through the client library) until
 * ctr prints it.
 */
export async function watchEvents(address: string): Promise<EventWatch> {
  const child = new Deno.Command("ctr", {
    args: ["--address", address, "events"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = collect(child.stdout);
  const events = new CoreClient({ address }).service(Events);
  const probe = {
    topic: WATCH_PROBE_TOPIC,
    event: {
      typeUrl: "containerd.events.NamespaceUpdate",
      value: toBinary(
        NamespaceUpdateSchema,
        create(NamespaceUpdateSchema, { name: "probe" }),
      ),
    },
  };
  const printed = new RegExp(` ${WATCH_PROBE_TOPIC} `);
  const deadline = Date.now() + 30_000;
  for (;;) {
    await events.publish(probe);
    try {
      await out.waitFor(printed, 200);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill("SIGTERM");
        await child.status;
        throw err;
      }
    }
  }
  return {
    get text() {
      return out.text;
    },
    waitFor: (pattern, timeoutMs) => out.waitFor(pattern, timeoutMs),
    topics: (prefix) =>
      [...out.text.matchAll(/ (\/\S+) /g)].map((m) => m[1]).filter((t) =>
        t.startsWith(prefix)
      ),
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * Asks a daemon for a garbage collection and waits until it is done, as
 * containerd's clients do: a lease deleted with `--sync`. Tests that need
 * a collection ask for one; none waits for the collector's own schedule.
 */
export async function collectGarbage(
  daemon: { ctr: TestDaemon["ctr"] },
): Promise<void> {
  const created = await daemon.ctr(["leases", "create"]);
  const id = created.stdout.trim();
  const removed = await daemon.ctr(["leases", "rm", "--sync", id]);
  if (created.code !== 0 || removed.code !== 0) {
    throw new Error(`collection failed: ${created.stderr}${removed.stderr}`);
  }
}
