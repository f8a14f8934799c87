/**
 * `berth daemon`: loads the config, applies flags over it, serves until
 * SIGTERM or SIGINT, then shuts down cleanly (socket removed).
 *
 * @module
 */
import { isLevel, log, setLevel } from "../log/mod.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config.ts";
import { startDaemon } from "./daemon.ts";

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
