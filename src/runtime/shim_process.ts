/**
 * Starting a shim the way containerd does, so `berth shim` and the real
 * `containerd-shim-runc-v2` are interchangeable: run the binary with
 * `-namespace NS -id ID -address DAEMON start` in the bundle directory; it
 * forks the long-running monitor, prints its ttrpc address and exits.
 *
 * @module
 */
import { join } from "node:path";
import {
  makeSocketDir,
  MAX_SOCKET_PATH,
  sha256Hex,
  shimSocketPath,
  SOCKET_ROOT,
} from "../shim/address.ts";
import { deleteContainer } from "../shim/delete.ts";
import { launchServe } from "../shim/launch.ts";
import { log } from "../log/mod.ts";
import { FileType, mknod } from "../sys/mod.ts";
import { closeFd, openFd } from "../sys/fdio.ts";
import {
  fileIdentity,
  makeSealedCopy,
  type OwnSealedCopy,
} from "../sys/sealed_copy.ts";
import { programPath } from "../sys/spawn.ts";
import { SEALED_RUNC_ENV } from "../shim/runc.ts";
import { BerthError, Code } from "../types/mod.ts";

/** How to run a shim. */
export interface ShimCommand {
  /** The program. */
  command: string;
  /** Arguments before containerd's shim arguments. */
  args?: readonly string[];
  /**
   * Whether the shim writes its log to the bundle's `log` FIFO, as
   * containerd's shims do (they exit when nobody reads it).
   */
  logFifo?: boolean;
  /**
   * Whether this is berth's own shim, which the daemon starts straight into
   * `serve` (containerd's `start` would only start that in turn).
   */
  builtin?: boolean;
  /** Extra environment for the shim. */
  env?: Record<string, string>;
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
  /**
   * Where berth's own shim is to listen; default: the container's own
   * socket (see `shimSocketPath`).
   */
  socket?: string;
}

const decoder = new TextDecoder();

/** Starts a shim; returns the path of its ttrpc socket. */
export async function startShim(options: StartShimOptions): Promise<string> {
  if (options.shim.logFifo) {
    mknod(join(options.bundle, SHIM_LOG), {
      type: FileType.S_IFIFO,
      mode: 0o700,
    });
    readShimLog(options);
  }
  if (options.shim.builtin) {
    const { bundle, daemonAddress, namespace, id } = options;
    const socket = options.socket ??
      await shimSocketPath(bundle, daemonAddress, namespace, id);
    await makeSocketDir(socket, bundle);
    await launchServe({
      command: options.shim.command,
      args: [
        ...options.shim.args ?? [],
        ...shimArgs(options),
        "-socket",
        socket,
        "serve",
      ],
      cwd: bundle,
      env: {
        ...options.shim.env,
        TTRPC_ADDRESS: options.ttrpcAddress,
        ...sealedRuncEnv(),
      },
      socket,
    });
    return socket;
  }
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

/** The daemon's sealed copy of runc, for the shims it starts. */
let runcCopy: OwnSealedCopy | undefined;

/**
 * The environment that hands berth's shim a sealed copy of the `runc` on
 * PATH to run runc from (see `sys/sealed_copy.ts`): made for the first
 * shim and again once runc changes; none when no copy can be made (the
 * shim then runs runc's file).
 */
function sealedRuncEnv(): Record<string, string> {
  const runc = programPath("runc");
  if (!runc) return {};
  if (
    runcCopy?.copy.source !== runc ||
    fileIdentity(runc) !== runcCopy.copy.identity
  ) {
    runcCopy?.close();
    runcCopy = undefined;
    try {
      runcCopy = makeSealedCopy(runc);
    } catch (err) {
      log.warn("shims run runc from its file", { error: String(err) });
      return {};
    }
  }
  return { [SEALED_RUNC_ENV]: JSON.stringify(runcCopy.copy) };
}

/**
 * The shim binary containerd would run for runtime `name`: for
 * `io.containerd.X.vN`, `containerd-shim-X-vN` in a PATH directory.
 */
export function findShimBinary(name: string): string | undefined {
  const match = /^io\.containerd\.([^./]+)\.(v\d+)$/.exec(name);
  if (!match) return undefined;
  const binary = `containerd-shim-${match[1]}-${match[2]}`;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(join(dir, binary)).isFile) return join(dir, binary);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** containerd's shim flags, before the action. */
function shimArgs(options: StartShimOptions): string[] {
  return [
    "-namespace",
    options.namespace,
    "-id",
    options.id,
    "-address",
    options.daemonAddress,
    "-bundle",
    options.bundle,
  ];
}

/** The FIFO in the bundle a containerd shim logs to. */
const SHIM_LOG = "log";

/**
 * Copies the shim's log lines into the daemon's log until the shim exits
 * (also after a daemon restart, for a shim that logs to its FIFO).
 */
export function readShimLog(options: StartShimOptions): void {
  if (!options.shim.logFifo) return;
  const logger = log.with({ namespace: options.namespace, id: options.id });
  (async () => {
    // Opening waits, on a worker thread, for the shim to open its end.
    const fifo = await Deno.open(join(options.bundle, SHIM_LOG), {
      read: true,
    });
    const lines = fifo.readable.pipeThrough(new TextDecoderStream());
    let rest = "";
    for await (const chunk of lines) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) if (line) logger.debug(`shim: ${line}`);
    }
  })().catch(() => {});
}

/**
 * Ends the log reader of a bundle whose task joined a shim already running
 * (which logs to its first bundle's FIFO only): opening the FIFO for
 * writing once lets the waiting reader see end of file.
 */
export function releaseShimLog(options: StartShimOptions): void {
  if (!options.shim.logFifo) return;
  try {
    closeFd(openFd(join(options.bundle, SHIM_LOG), O_WRONLY | O_NONBLOCK));
  } catch {
    // no reader waits
  }
}

const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;

/**
 * Runs the shim's `delete` action: its clean-up after the monitor is gone
 * (for berth's own shim, in the daemon, sparing a process start).
 */
export async function deleteShim(options: StartShimOptions): Promise<void> {
  if (options.shim.builtin) {
    await deleteContainer(options.bundle, options.namespace, options.id);
    return;
  }
  await runShimAction(options, "delete").catch(() => {});
}

/**
 * A fresh socket path for a shim of berth's shared by group `group`: below
 * `STATE/s/` when that is short enough, else below `/run/berth/s`.
 */
export async function sharedShimSocket(
  state: string,
  group: string,
): Promise<string> {
  const name = await sha256Hex(`${group}\0${crypto.randomUUID()}`);
  const local = join(state, "s", name.slice(0, 32));
  return local.length <= MAX_SOCKET_PATH ? local : join(SOCKET_ROOT, name);
}

async function runShimAction(
  options: StartShimOptions,
  action: string,
): Promise<string> {
  const out = await new Deno.Command(options.shim.command, {
    args: [...(options.shim.args ?? []), ...shimArgs(options), action],
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
