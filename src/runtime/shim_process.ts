/**
 * Starting a shim the way containerd does, so `berth shim` and the real
 * `containerd-shim-runc-v2` are interchangeable: run the binary with
 * `-namespace NS -id ID -address DAEMON start` in the bundle directory; it
 * forks the long-running monitor, prints its ttrpc address and exits.
 *
 * @module
 */
import { BerthError, Code } from "../types/mod.ts";

/** How to run a shim. */
export interface ShimCommand {
  /** The program. */
  command: string;
  /** Arguments before containerd's shim arguments. */
  args?: readonly string[];
}

/** Options for {@linkcode startShim}. */
export interface StartShimOptions {
  /** The shim to run. */
  shim: ShimCommand;
  /** The bundle directory (the shim's working directory). */
  bundle: string;
  /** The task's namespace. */
  namespace: string;
  /** The task's id. */
  id: string;
  /** The daemon's socket. */
  daemonAddress: string;
  /** The daemon's ttrpc socket for the shim's events (`TTRPC_ADDRESS`). */
  ttrpcAddress: string;
}

const decoder = new TextDecoder();

/** Starts a shim; returns the path of its ttrpc socket. */
export async function startShim(options: StartShimOptions): Promise<string> {
  const out = await runShimAction(options, "start");
  const address = out.trim();
  if (!address.startsWith("unix://")) {
    throw new BerthError(
      Code.Internal,
      `shim for ${options.namespace}/${options.id} printed no address: ${
        JSON.stringify(address)
      }`,
    );
  }
  return address.slice("unix://".length);
}

/** Runs the shim's `delete` action: its clean-up after the monitor is gone. */
export async function deleteShim(options: StartShimOptions): Promise<void> {
  await runShimAction(options, "delete").catch(() => {});
}

async function runShimAction(
  options: StartShimOptions,
  action: string,
): Promise<string> {
  const out = await new Deno.Command(options.shim.command, {
    args: [
      ...(options.shim.args ?? []),
      "-namespace",
      options.namespace,
      "-id",
      options.id,
      "-address",
      options.daemonAddress,
      action,
    ],
    cwd: options.bundle,
    env: { TTRPC_ADDRESS: options.ttrpcAddress },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new BerthError(
      Code.Internal,
      `shim ${action} for ${options.namespace}/${options.id}: ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout);
}
