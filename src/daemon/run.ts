/**
 * `berth daemon`: loads the config, applies flags over it, serves until
 * SIGTERM or SIGINT, then shuts down cleanly (socket removed).
 *
 * @module
 */
import { isLevel, log, setLevel } from "../log/mod.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config.ts";
import { startDaemon } from "./daemon.ts";
import { execve, ownArgv } from "../sys/exec.ts";

/**
 * V8 flags the daemon runs with. V8 grows its young generation up to
 * 3 × 16 MB under the daemon's allocation rate and keeps it: a cap of
 * 1 MB per semi-space keeps RSS after a soak near a fresh daemon's
 * (~124 against ~190 MB after 150 `ctr run --rm`) at no measurable cost.
 * `--expose-gc` gives the daemon the full collection it runs every 10 s
 * while busy (see `_memory.ts`). (`--memory-saver-mode` or a small
 * `--heap-growing-percent` would keep the old generation near its live
 * size all the time, but make a 200 MB pull take 2-3 times as long.)
 */
export const DAEMON_V8_FLAGS = "--max-semi-space-size=1,--expose-gc";

/**
 * Restarts this process in place with {@linkcode DAEMON_V8_FLAGS}
 * (V8 reads them only at start-up) unless DENO_V8_FLAGS already names a
 * semi-space size. Same pid, fds and arguments.
 */
function execWithV8Flags(): void {
  const current = Deno.env.get("DENO_V8_FLAGS") ?? "";
  if (current.includes("semi-space-size")) return;
  const flags = current ? `${current},${DAEMON_V8_FLAGS}` : DAEMON_V8_FLAGS;
  try {
    execve(Deno.execPath(), ownArgv(), {
      ...Deno.env.toObject(),
      DENO_V8_FLAGS: flags,
    });
  } catch (err) {
    log.warn("running without the daemon's V8 flags", {
      error: String(err),
    });
  }
}

/** Flags of `berth daemon`; each overrides the config file. */
export interface DaemonFlags {
  /** Config file path. */
  config?: string;
  /** Root directory. */
  root?: string;
  /** State directory. */
  state?: string;
  /** Socket path. */
  address?: string;
  /** Log level. */
  logLevel?: string;
}

/** Runs the daemon until a stop signal; returns the exit code. */
export async function runDaemon(flags: DaemonFlags): Promise<number> {
  execWithV8Flags();
  const config = await loadConfig(flags.config ?? DEFAULT_CONFIG_PATH);
  if (flags.root) config.root = flags.root;
  if (flags.state) config.state = flags.state;
  if (flags.address) config.grpc.address = flags.address;
  if (flags.logLevel) config.debug.level = flags.logLevel;
  if (!isLevel(config.debug.level)) {
    throw new Error(`unknown log level ${JSON.stringify(config.debug.level)}`);
  }
  setLevel(config.debug.level);

  // Listen before serving: a signal that comes during start-up still
  // stops the daemon cleanly once it is up.
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
  const daemon = await startDaemon(config);
  const signal = await stopped;
  log.info("stopping", { signal });
  await daemon.close();
  return 0;
}
