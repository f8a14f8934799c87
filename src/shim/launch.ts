/**
 * Launching the long-running shim (`… serve`) detached from its parent, in
 * its own session, and waiting until it listens. The shim's `start` action
 * does this for containerd's contract; the daemon does it directly for
 * berth's own shim, which saves starting a program only to start another.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { BerthError, Code } from "../types/errors.ts";

/** What {@linkcode launchServe} runs. */
export interface LaunchOptions {
  /** The program. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Working directory (the bundle). */
  cwd: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** The socket the shim listens on once ready. */
  socket: string;
  /** How long it may take (default 20 s). */
  timeoutMs?: number;
}

/** Spawns the shim detached; resolves once `socket` accepts connections. */
export async function launchServe(options: LaunchOptions): Promise<void> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...Deno.env.toObject(), ...options.env },
    detached: true,
    stdio: "ignore",
  });
  let exited = false;
  child.once("exit", () => exited = true);
  child.once("error", () => exited = true);
  child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline && !exited) {
    try {
      const conn = await Deno.connect({
        transport: "unix",
        path: options.socket,
      });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new BerthError(
    Code.Internal,
    `shim ${
      exited ? "exited before listening" : "did not listen"
    } on ${options.socket}`,
  );
}
