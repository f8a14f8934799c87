/**
 * `berth shim`: the per-container monitor, following containerd's shim
 * command-line contract.
 *
 * - `berth shim -namespace NS -id ID -address DAEMON start` (cwd = bundle)
 *   starts the long-running shim detached in its own session, waits until
 *   it listens, and prints its address (`unix://PATH`).
 * - `… serve` is that long-running shim: a child subreaper serving the task
 *   API over ttrpc; it writes `address` and `shim.pid` into the bundle.
 * - `… delete` force-deletes the container with runc after a crash and
 *   prints nothing.
 *
 * @module
 */
import { basename, dirname, join } from "../types/path.ts";
import { Task } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { setChildSubreaper } from "../sys/proc.ts";
import { TtrpcServer } from "../ttrpc/server.ts";
import { validateIdentifier } from "../types/identifiers.ts";
import { shimSocketPath } from "./address.ts";
import { launchServe } from "./launch.ts";
import { EventPublisher } from "./publisher.ts";
import { Runc } from "./runc.ts";
import { defaultRuncRoot, RUNC_OPTIONS_FILE, TaskService } from "./task.ts";

/** Parsed shim command line. */
export interface ShimArgs {
  /** Namespace of the container. */
  namespace: string;
  /** Container id. */
  id: string;
  /** The daemon's address. */
  address: string;
  /** Bundle directory (default: cwd). */
  bundle: string;
  /** `start`, `serve` or `delete`. */
  action: string;
}

const VALUE_FLAGS = new Set([
  "namespace",
  "id",
  "address",
  "bundle",
  "publish-binary",
  "socket",
]);

/** Parses containerd-style single-dash flags followed by the action. */
export function parseShimArgs(args: string[]): ShimArgs {
  const values: Record<string, string> = {};
  let action = "";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.startsWith("-")) {
      const [name, inline] = arg.replace(/^--?/, "").split("=", 2);
      if (inline !== undefined) values[name] = inline;
      else if (VALUE_FLAGS.has(name)) values[name] = args[++i] ?? "";
      else values[name] = "true";
    } else if (!action) {
      action = arg;
    }
  }
  return {
    namespace: values.namespace ?? "",
    id: values.id ?? "",
    address: values.address ?? "",
    bundle: values.bundle || Deno.cwd(),
    action,
  };
}

/** Runs the shim with command line `args`; returns the exit code. */
export async function runShim(args: string[]): Promise<number> {
  let parsed: ShimArgs;
  try {
    parsed = parseShimArgs(args);
    validateIdentifier(parsed.namespace);
    validateIdentifier(parsed.id);
  } catch (err) {
    console.error(`berth shim: ${(err as Error).message}`);
    return 1;
  }
  try {
    switch (parsed.action) {
      case "start":
        return await start(parsed, args);
      case "serve":
        return await serve(parsed);
      case "delete":
        return await deleteAction(parsed);
      default:
        console.error(`berth shim: unknown action "${parsed.action}"`);
        return 1;
    }
  } catch (err) {
    console.error(`berth shim: ${(err as Error).message}`);
    return 1;
  }
}

/** The command that runs this program again with `args`. */
function selfCommand(args: string[]): [string, string[]] {
  const exe = Deno.execPath();
  if (basename(exe) === "deno" && !Deno.mainModule.includes("deno-compile")) {
    return [exe, ["run", "-A", Deno.mainModule, "shim", ...args]];
  }
  return [exe, ["shim", ...args]];
}

async function start(a: ShimArgs, args: string[]): Promise<number> {
  const socket = await shimSocketPath(a.bundle, a.address, a.namespace, a.id);
  await Deno.mkdir(dirname(socket), { recursive: true });
  const serveArgs = args.map((x) => x === "start" ? "serve" : x);
  if (!args.includes("-bundle")) serveArgs.unshift("-bundle", a.bundle);
  const [command, commandArgs] = selfCommand(serveArgs);
  await launchServe({ command, args: commandArgs, cwd: a.bundle, socket });
  console.log(`unix://${socket}`);
  return 0;
}

async function serve(a: ShimArgs): Promise<number> {
  setChildSubreaper();
  const socket = await shimSocketPath(a.bundle, a.address, a.namespace, a.id);
  await Deno.mkdir(dirname(socket), { recursive: true });
  const server = new TtrpcServer();
  const { promise: stopped, resolve: stop } = Promise.withResolvers<void>();
  // containerd names its events socket in the environment, as berth does.
  const publisher = new EventPublisher(
    Deno.env.get("TTRPC_ADDRESS") ?? "",
    a.namespace,
  );
  const service = new TaskService({
    namespace: a.namespace,
    publisher,
    onShutdown: () => stop(),
  });
  server.registerService(Task, service.handlers());
  await Deno.writeTextFile(join(a.bundle, "shim.pid"), `${Deno.pid}\n`);
  // The address is on disk before anyone can connect and look for it.
  await Deno.writeTextFile(join(a.bundle, "address"), `unix://${socket}`);
  server.listen(socket);
  const onSignal = () => stop();
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped;
  Deno.removeSignalListener("SIGTERM", onSignal);
  await server.close();
  await publisher.close();
  await Deno.remove(socket).catch(() => {});
  return 0;
}

async function deleteAction(a: ShimArgs): Promise<number> {
  let saved: { binary?: string; root?: string } = {};
  try {
    saved = JSON.parse(
      await Deno.readTextFile(join(a.bundle, RUNC_OPTIONS_FILE)),
    );
  } catch {
    // never created: nothing for runc to delete
    return 0;
  }
  const runc = new Runc({
    binary: saved.binary,
    root: saved.root ?? defaultRuncRoot(a.bundle, a.namespace),
    log: join(a.bundle, "log.json"),
  });
  await runc.delete(a.id, true).catch(() => {});
  return 0;
}
