/**
 * Launching the long-running shim (`… serve`) detached from its parent, in
 * its own session, and waiting until it listens. The shim's `start` action
 * does this for containerd's contract; the daemon does it directly for
 * berth's own shim, which saves starting a program only to start another.
 *
 * @module
 */
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
  const child = new Deno.Command(options.command, {
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true, () => exited = true);
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
