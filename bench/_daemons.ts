/**
 * Daemons for benchmarks: berth and (when installed) a real containerd,
 * each on its own temporary root, state and socket, stopped by PID.
 * containerd never touches `/run/containerd` or `/var/lib/containerd`:
 * every path it uses is set in a config written into its temporary dir.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));

/** A running daemon that `ctr --address` can drive. */
export interface BenchDaemon {
  /** `berth` or `containerd`. */
  name: string;
  /** The socket `ctr --address` takes. */
  address: string;
  /** Temporary directory holding root, state, socket, config and log. */
  dir: string;
  /** The daemon's state directory (bundles live below it). */
  state: string;
  /** The daemon's PID. */
  pid: number;
  /** Stops the daemon (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/** Whether `name` is an executable on PATH. */
export async function onPath(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile && (info.mode ?? 0) & 0o111) return true;
    } catch {
      // not here
    }
  }
  return false;
}

async function canConnect(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

/**
 * Spawns `cmd args…` with its output in `dir/daemon.log`, waits for
 * `address` to accept connections, and returns the handle.
 */
async function launch(
  name: string,
  dir: string,
  address: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<BenchDaemon> {
  const logPath = `${dir}/daemon.log`;
  const log = openSync(logPath, "w");
  const base = Deno.env.toObject();
  // A Rust backtrace setting only adds noise to Deno's error output.
  delete base.RUST_BACKTRACE;
  const child = spawn(cmd, args, {
    stdio: ["ignore", log, log],
    env: { ...base, ...env },
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, 10_000);
      await exit;
      clearTimeout(timer);
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 30_000;
  while (!await canConnect(address)) {
    if (exited || Date.now() > deadline) {
      const why = exited ? "exited during start-up" : "did not listen in 30s";
      const text = await tail(logPath);
      await stop();
      throw new Error(`${name} ${why}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name, address, dir, state: `${dir}/state`, pid, stop };
}

/**
 * Starts `berth daemon` on fresh temporary paths; `config(dir)` gives the
 * config file's text (without it the file does not exist: the defaults).
 */
export async function startBerth(
  config?: (dir: string) => string,
): Promise<BenchDaemon> {
  const dir = await Deno.makeTempDir({ prefix: "berth-bench-" });
  const address = `${dir}/berth.sock`;
  if (config) await Deno.writeTextFile(`${dir}/config.toml`, config(dir));
  return await launch("berth", dir, address, Deno.execPath(), [
    "run",
    "-A",
    MOD,
    "daemon",
    "--root",
    `${dir}/root`,
    "--state",
    `${dir}/state`,
    "--address",
    address,
    "--config",
    `${dir}/${config ? "config" : "none"}.toml`,
  ], { NO_COLOR: "1" });
}

/**
 * Starts a real containerd on fresh temporary paths with a minimal config
 * (CRI disabled, every address and directory private).
 */
export async function startContainerd(): Promise<BenchDaemon> {
  const dir = await Deno.makeTempDir({ prefix: "containerd-bench-" });
  const address = `${dir}/c.sock`;
  const config = `${dir}/config.toml`;
  await Deno.writeTextFile(
    config,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "",
      "[grpc]",
      `  address = "${address}"`,
      "",
      "[ttrpc]",
      `  address = "${address}.ttrpc"`,
      "",
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      "",
    ].join("\n"),
  );
  return await launch("containerd", dir, address, "containerd", [
    "--config",
    config,
    "--root",
    `${dir}/root`,
    "--state",
    `${dir}/state`,
    "--address",
    address,
  ]);
}

/**
 * berth, and containerd when it is installed (and we are root, which it
 * needs); `skip` names the sides not to start.
 */
export async function startDaemons(
  skip: readonly string[] = [],
): Promise<{ daemons: BenchDaemon[]; notes: string[] }> {
  const daemons: BenchDaemon[] = [];
  const notes: string[] = [];
  try {
    if (!skip.includes("berth")) daemons.push(await startBerth());
    if (skip.includes("containerd")) {
      // asked not to
    } else if (!await onPath("containerd")) {
      notes.push("containerd is not installed: berth only");
    } else if (Deno.uid() !== 0) {
      notes.push("containerd needs root: berth only");
    } else {
      daemons.push(await startContainerd());
    }
  } catch (err) {
    await Promise.all(daemons.map((d) => d.stop()));
    throw err;
  }
  return { daemons, notes };
}
