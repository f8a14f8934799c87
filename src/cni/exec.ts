/**
 * Running one CNI plugin as the spec says: the command and its arguments in
 * the environment (`CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`,
 * `CNI_IFNAME`, `CNI_ARGS`, `CNI_PATH`), the network configuration on
 * stdin, the result or a structured error on stdout. A plugin that runs
 * past its timeout is killed; its stderr goes into the error.
 *
 * @module
 */
import * as fs from "node:fs";
import { join } from "node:path";

/** The environment of one plugin call. */
export interface PluginArgs {
  /** ADD, DEL, CHECK or VERSION. */
  command: "ADD" | "DEL" | "CHECK" | "VERSION";
  /** CNI_CONTAINERID. */
  containerId?: string;
  /** CNI_NETNS. */
  netns?: string;
  /** CNI_IFNAME. */
  ifname?: string;
  /** CNI_ARGS pairs. */
  args?: Record<string, string>;
}

/** A plugin that failed: its CNI error code, message and stderr. */
export class PluginError extends Error {
  /** The CNI error code (0 when the plugin gave none). */
  readonly code: number;
  /** Creates the error. */
  constructor(plugin: string, command: string, code: number, message: string) {
    super(`plugin ${plugin} ${command}: ${message}`);
    this.name = "PluginError";
    this.code = code;
  }
}

/** A plugin binary that is in none of the directories. */
export class PluginNotFoundError extends Error {
  /** Creates the error. */
  constructor(plugin: string, dirs: readonly string[]) {
    super(
      `CNI plugin ${JSON.stringify(plugin)} not found in ${dirs.join(", ")}`,
    );
    this.name = "PluginNotFoundError";
  }
}

/** The path of plugin `type` in the first of `dirs` holding it. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const path = join(dir, type);
    try {
      fs.accessSync(path, fs.constants.X_OK);
      if (fs.statSync(path).isFile()) return path;
    } catch {
      // Not in this directory.
    }
  }
  throw new PluginNotFoundError(type, dirs);
}

/**
 * PATH for plugins: the daemon's, with the sbin directories where iptables
 * and friends live (a daemon started from a user's shell may lack them).
 */
function pluginPath(): string {
  const dirs = (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":");
  for (const dir of ["/usr/sbin", "/sbin"]) {
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs.join(":");
}

/** Options for {@linkcode execPlugin}. */
export interface ExecOptions {
  /** The plugin binary. */
  path: string;
  /** The plugin directories (CNI_PATH, for delegated IPAM plugins). */
  binDirs: readonly string[];
  /** The call. */
  args: PluginArgs;
  /** The configuration for stdin. */
  config: unknown;
  /** Kill the plugin after this long. */
  timeoutMs: number;
}

/**
 * Runs a plugin; resolves to its parsed stdout (undefined when empty, as
 * DEL may answer).
 *
 * @throws {PluginError} on a non-zero exit, a timeout or unreadable output.
 */
export async function execPlugin(options: ExecOptions): Promise<unknown> {
  const { args } = options;
  const name = options.path.slice(options.path.lastIndexOf("/") + 1);
  const env: Record<string, string> = {
    CNI_COMMAND: args.command,
    CNI_PATH: options.binDirs.join(":"),
  };
  if (args.containerId !== undefined) env.CNI_CONTAINERID = args.containerId;
  if (args.netns !== undefined) env.CNI_NETNS = args.netns;
  if (args.ifname !== undefined) env.CNI_IFNAME = args.ifname;
  const pairs = Object.entries(args.args ?? {});
  if (pairs.length) {
    // As containerd's CNI client does: plugins skip the keys they do not
    // know instead of failing on them.
    env.CNI_ARGS = [["IgnoreUnknown", "1"], ...pairs]
      .map(([k, v]) => `${k}=${v}`).join(";");
  }
  // In a process group of its own (setsid execs the plugin in place), so
  // a timeout ends the iptables and IPAM children it waits for too.
  const child = new Deno.Command("setsid", {
    args: [options.path],
    env: { PATH: pluginPath(), ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, options.timeoutMs);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(options.config)))
      .catch(() => {});
    await writer.close().catch(() => {});
    const output = await child.output();
    const stdout = new TextDecoder().decode(output.stdout).trim();
    const stderr = new TextDecoder().decode(output.stderr).trim();
    if (timedOut) {
      throw new PluginError(
        name,
        args.command,
        0,
        `timed out after ${options.timeoutMs} ms${stderr ? `: ${stderr}` : ""}`,
      );
    }
    if (!output.success) {
      let code = 0;
      let message = stdout || `exit status ${output.code}`;
      try {
        const error = JSON.parse(stdout) as {
          code?: number;
          msg?: string;
          details?: string;
        };
        code = error.code ?? 0;
        message = [error.msg, error.details].filter(Boolean).join("; ") ||
          message;
      } catch {
        // Not the spec's error object: the raw output says it.
      }
      throw new PluginError(
        name,
        args.command,
        code,
        stderr ? `${message} (stderr: ${stderr})` : message,
      );
    }
    if (stdout === "") return undefined;
    try {
      return JSON.parse(stdout);
    } catch {
      throw new PluginError(
        name,
        args.command,
        0,
        `unreadable output: ${stdout}`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
