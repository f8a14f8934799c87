/**
 * Launching the long-running shim (`… serve`) detached from its parent, in
 * its own session, and waiting until it listens. The shim's `start` action
 * does this for containerd's contract; the daemon does it directly for
 * berth's own shim, which saves starting a program only to start another.
 *
 * The shim says when it listens: it writes {@linkcode READY} to its stdout
 * (a pipe the launcher reads) and then points its stdout at /dev/null. So
 * the launch ends the moment the socket accepts, with no connection tried
 * on a timer; an end of the pipe with no word means it exited first.
 *
 * @module
 */
import { BerthError, Code } from "../types/errors.ts";
import { nullifyFd } from "../sys/fdio.ts";

/** The line a serving shim writes to its stdout once it listens. */
export const READY = "listening\n";

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

/** Spawns the shim detached; resolves once it says it listens. */
export async function launchServe(options: LaunchOptions): Promise<void> {
  const child = new Deno.Command(options.command, {
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  child.status.catch(() => {});
  child.unref();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, options.timeoutMs ?? 20_000);
  let said = "";
  try {
    while (!said.includes(READY)) {
      const { value, done } = await reader.read();
      if (done) break;
      said += value;
    }
  } catch {
    // the pipe failed: the shim said nothing more
  } finally {
    clearTimeout(deadline);
    // The shim no longer writes to the pipe once it has said it listens.
    await reader.cancel().catch(() => {});
  }
  if (said.includes(READY)) return;
  throw new BerthError(
    Code.Internal,
    `shim ${
      timedOut ? "did not listen" : "exited before listening"
    } on ${options.socket}`,
  );
}

/**
 * Tells the launcher that the shim listens (see {@linkcode READY}) and lets
 * go of the pipe it reads: stdout is /dev/null from then on.
 */
export function announceListening(): void {
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(READY));
    nullifyFd(1);
  } catch {
    // Nobody reads (a shim started by hand), or stdout stays the pipe: the
    // shim writes nothing more to it either way.
  }
}
