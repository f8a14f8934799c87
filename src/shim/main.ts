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
import { basename, join } from "../types/path.ts";
import { Task } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { setChildSubreaper } from "../sys/proc.ts";
import { reapOrphans } from "./reaper.ts";
import { TtrpcServer } from "../ttrpc/server.ts";
import { validateIdentifier } from "../types/identifiers.ts";
import { groupSocketPath, makeSocketDir, shimSocketPath } from "./address.ts";
import { announceListening, launchServe } from "./launch.ts";
import { EventPublisher } from "./publisher.ts";
import { deleteContainer } from "./delete.ts";
import { TaskService } from "./task.ts";
import { holdSealedRunc, setRuncEnvironment } from "./runc.ts";

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
  /** The socket to serve on (`-socket`; default: derived from the id). */
  socket: string;
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
    socket: values.socket ?? "",
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

/**
 * Containers whose spec carries one of these annotations share the shim of
 * that group, as with containerd's runc shim (first match wins).
 */
export const GROUP_ANNOTATIONS = [
  "io.containerd.runc.v2.group",
  "io.kubernetes.cri.sandbox-id",
];

/** The group the bundle's spec names, or undefined. */
async function specGroup(bundle: string): Promise<string | undefined> {
  const spec = JSON.parse(
    await Deno.readTextFile(join(bundle, "config.json")),
  );
  const annotations = spec?.annotations ?? {};
  for (const name of GROUP_ANNOTATIONS) {
    if (typeof annotations[name] === "string") return annotations[name];
  }
  return undefined;
}

async function start(a: ShimArgs, args: string[]): Promise<number> {
  const group = await specGroup(a.bundle);
  const socket = group === undefined
    ? await shimSocketPath(a.bundle, a.address, a.namespace, a.id)
    : await groupSocketPath(a.address, a.namespace, group);
  await makeSocketDir(socket, a.bundle);
  if (!await listening(socket)) {
    const serveArgs = args.map((x) => x === "start" ? "serve" : x);
    if (!args.includes("-bundle")) serveArgs.unshift("-bundle", a.bundle);
    serveArgs.unshift("-socket", socket);
    const [command, commandArgs] = selfCommand(serveArgs);
    await launchServe({ command, args: commandArgs, cwd: a.bundle, socket });
  }
  await Deno.writeTextFile(join(a.bundle, "address"), `unix://${socket}`);
  console.log(`unix://${socket}`);
  return 0;
}

/** Whether a shim answers on `socket`. */
async function listening(socket: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path: socket })).close();
    return true;
  } catch {
    return false;
  }
}

async function serve(a: ShimArgs): Promise<number> {
  setChildSubreaper();
  holdSealedRunc();
  setRuncEnvironment();
  const stopReaping = reapOrphans();
  // The shim outlives the bundle it started in (its group's first): every
  // command it runs must not inherit a working directory that is gone.
  Deno.chdir("/");
  const socket = a.socket ||
    await shimSocketPath(a.bundle, a.address, a.namespace, a.id);
  await makeSocketDir(socket, a.bundle);
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
  // A shim kept idle for its group's next container (see the daemon's
  // shim_linger) ends when nobody is connected any more: its daemon died.
  server.onDisconnect = (open) => {
    if (open === 0 && service.done) stop();
  };
  await Deno.writeTextFile(join(a.bundle, "shim.pid"), `${Deno.pid}\n`);
  // The address is on disk before anyone can connect and look for it.
  await Deno.writeTextFile(join(a.bundle, "address"), `unix://${socket}`);
  server.listen(socket);
  announceListening();
  const onSignal = () => stop();
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped;
  Deno.removeSignalListener("SIGTERM", onSignal);
  await server.close();
  stopReaping();
  await publisher.close();
  await Deno.remove(socket).catch(() => {});
  return 0;
}

async function deleteAction(a: ShimArgs): Promise<number> {
  await deleteContainer(a.bundle, a.namespace, a.id);
  return 0;
}
