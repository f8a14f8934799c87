/**
 * `berth ctr`: the debugging client, shaped like containerd's `ctr`.
 *
 * @module
 */
import { Command, Option } from "commander";
import { ConnectError } from "@connectrpc/connect";
import { Connection } from "./_client.ts";
import { ExitError } from "./_exit.ts";
import { parseDuration } from "../src/types/duration.ts";
/** The daemon's socket when neither `--address` nor `BERTH_ADDRESS` say. */
export const DEFAULT_ADDRESS = "/run/berth/berth.sock";

/** Adds a command group (or, for a group of verb files, a verb) to its parent. */
type Register = (parent: Command, connect: () => Connection) => void;

/** A subcommand in its own file, `commands/<group>/<verb>.ts`. */
interface Verb {
  /** The names that invoke it. */
  names: readonly string[];
  /** Its module, exporting `register`. */
  module: string;
}

/** A group whose verbs each have their own file. */
interface VerbGroup {
  /** The group's description. */
  description: string;
  /** Flags after the verb belong to it (e.g. a command `exec` runs). */
  positionalOptions?: boolean;
  /** The group's own flags, which take a value. */
  options?: readonly {
    flags: string;
    description: string;
    env: string;
    default: string;
  }[];
  /** Its verbs, in the order help lists them. */
  verbs: readonly Verb[];
}

/**
 * Every command group, by the names that invoke it. Each is loaded only
 * when used: a command starts faster without the others' modules.
 */
const GROUPS: readonly ({
  names: readonly string[];
} & ({ module: string; register: string } | VerbGroup))[] = [
  {
    names: ["version"],
    module: "./commands/version.ts",
    register: "versionCommand",
  },
  {
    names: ["plugins", "plugin"],
    description: "provides information about berth's plugins",
    verbs: [
      { names: ["list", "ls"], module: "./commands/plugins/list.ts" },
    ],
  },
  {
    names: ["namespaces", "namespace", "ns"],
    description: "manage namespaces",
    verbs: [
      { names: ["create", "c"], module: "./commands/namespaces/create.ts" },
      { names: ["list", "ls"], module: "./commands/namespaces/list.ts" },
      { names: ["label"], module: "./commands/namespaces/label.ts" },
      { names: ["remove", "rm"], module: "./commands/namespaces/remove.ts" },
    ],
  },
  {
    names: ["events", "event"],
    module: "./commands/events.ts",
    register: "eventsCommand",
  },
  {
    names: ["content"],
    description: "manage content",
    verbs: [
      { names: ["list", "ls"], module: "./commands/content/list.ts" },
      { names: ["get"], module: "./commands/content/get.ts" },
      { names: ["ingest"], module: "./commands/content/ingest.ts" },
      { names: ["active"], module: "./commands/content/active.ts" },
      { names: ["label"], module: "./commands/content/label.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/content/delete.ts",
      },
      { names: ["fetch-blob"], module: "./commands/content/fetch-blob.ts" },
    ],
  },
  {
    names: ["leases"],
    description: "manage leases",
    verbs: [
      { names: ["list", "ls"], module: "./commands/leases/list.ts" },
      { names: ["create"], module: "./commands/leases/create.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/leases/delete.ts",
      },
    ],
  },
  {
    names: ["snapshots", "snapshot"],
    description: "manage snapshots",
    options: [{
      flags: "--snapshotter <name>",
      description: "snapshotter name; empty stands for the default",
      env: "BERTH_SNAPSHOTTER",
      default: "overlayfs",
    }],
    verbs: [
      { names: ["prepare"], module: "./commands/snapshots/prepare.ts" },
      { names: ["view"], module: "./commands/snapshots/view.ts" },
      {
        names: ["mounts", "m", "mount"],
        module: "./commands/snapshots/mounts.ts",
      },
      { names: ["commit"], module: "./commands/snapshots/commit.ts" },
      { names: ["list", "ls"], module: "./commands/snapshots/list.ts" },
      { names: ["info"], module: "./commands/snapshots/info.ts" },
      { names: ["usage"], module: "./commands/snapshots/usage.ts" },
      { names: ["tree"], module: "./commands/snapshots/tree.ts" },
      { names: ["label"], module: "./commands/snapshots/label.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/snapshots/delete.ts",
      },
      { names: ["diff"], module: "./commands/snapshots/diff.ts" },
    ],
  },
  {
    names: ["images", "image", "i"],
    description: "manage images",
    verbs: [
      { names: ["check"], module: "./commands/images/check.ts" },
      { names: ["export"], module: "./commands/images/export.ts" },
      { names: ["import"], module: "./commands/images/import.ts" },
      { names: ["list", "ls"], module: "./commands/images/list.ts" },
      { names: ["mount"], module: "./commands/images/mount.ts" },
      { names: ["unmount"], module: "./commands/images/unmount.ts" },
      { names: ["pull"], module: "./commands/images/pull.ts" },
      { names: ["push"], module: "./commands/images/push.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/images/delete.ts",
      },
      { names: ["tag"], module: "./commands/images/tag.ts" },
      { names: ["label"], module: "./commands/images/label.ts" },
    ],
  },
  { names: ["pull"], module: "./commands/pull.ts", register: "pullCommand" },
  { names: ["push"], module: "./commands/push.ts", register: "pushCommand" },
  {
    names: ["containers", "c", "container"],
    description: "manage containers",
    verbs: [
      { names: ["create"], module: "./commands/containers/create.ts" },
      { names: ["list", "ls"], module: "./commands/containers/list.ts" },
      { names: ["info"], module: "./commands/containers/info.ts" },
      { names: ["label"], module: "./commands/containers/label.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/containers/delete.ts",
      },
    ],
  },
  {
    names: ["run"],
    module: "./commands/run.ts",
    register: "runCommand",
  },
  {
    names: ["netns"],
    description: "manage named network namespaces",
    verbs: [
      { names: ["create", "c"], module: "./commands/netns/create.ts" },
      { names: ["list", "ls"], module: "./commands/netns/list.ts" },
      { names: ["label"], module: "./commands/netns/label.ts" },
      { names: ["remove", "rm"], module: "./commands/netns/remove.ts" },
    ],
  },
  {
    names: ["network", "networks", "net"],
    description: "CNI networks and attachments",
    verbs: [
      { names: ["list", "ls"], module: "./commands/network/list.ts" },
      {
        names: ["attachments", "a"],
        module: "./commands/network/attachments.ts",
      },
      { names: ["attach"], module: "./commands/network/attach.ts" },
      { names: ["check"], module: "./commands/network/check.ts" },
      { names: ["detach"], module: "./commands/network/detach.ts" },
    ],
  },
  {
    names: ["tasks", "t", "task"],
    description: "manage tasks",
    positionalOptions: true,
    verbs: [
      { names: ["attach"], module: "./commands/tasks/attach.ts" },
      {
        names: ["delete", "del", "remove", "rm"],
        module: "./commands/tasks/delete.ts",
      },
      { names: ["exec"], module: "./commands/tasks/exec.ts" },
      { names: ["list", "ls"], module: "./commands/tasks/list.ts" },
      { names: ["kill"], module: "./commands/tasks/kill.ts" },
      { names: ["pause"], module: "./commands/tasks/pause.ts" },
      { names: ["resume"], module: "./commands/tasks/resume.ts" },
      { names: ["ps"], module: "./commands/tasks/ps.ts" },
      { names: ["start"], module: "./commands/tasks/start.ts" },
      { names: ["metrics", "metric"], module: "./commands/tasks/metrics.ts" },
    ],
  },
  {
    names: ["interfaces", "interface", "if"],
    description: "manage network interfaces of a network namespace",
    verbs: [
      { names: ["list", "ls"], module: "./commands/interfaces/list.ts" },
      { names: ["add", "create"], module: "./commands/interfaces/add.ts" },
      { names: ["set"], module: "./commands/interfaces/set.ts" },
      {
        names: ["remove", "rm", "delete", "del"],
        module: "./commands/interfaces/remove.ts",
      },
    ],
  },
];

/**
 * Loads a group's module. The specifier is data, not a literal: Deno then
 * loads only this group's module graph, not every group's, at start-up
 * (`deno task compile` includes them all explicitly).
 */
async function load(module: string, name: string): Promise<Register> {
  const loaded = await import(new URL(module, import.meta.url).href);
  return loaded[name] as Register;
}

/**
 * Adds `group` to `program`: a module's group as it registers itself, or
 * a group of verb files with only the invoked verb loaded (every verb
 * when none is invoked, as for `--help`).
 */
async function addGroup(
  program: Command,
  connect: () => Connection,
  group: (typeof GROUPS)[number],
  args: readonly string[],
): Promise<void> {
  if ("module" in group) {
    (await load(group.module, group.register))(program, connect);
    return;
  }
  const command = program.command(group.names[0])
    .aliases(group.names.slice(1))
    .description(group.description);
  if (group.positionalOptions) command.enablePositionalOptions();
  // The group's own valued flags may stand between it and its verb.
  const valued = new Set<string>();
  for (const option of group.options ?? []) {
    command.addOption(
      new Option(option.flags, option.description).env(option.env)
        .default(option.default),
    );
    valued.add(option.flags.split(" ")[0]);
  }
  const at = args.findIndex((arg) => group.names.includes(arg));
  let name: string | undefined;
  for (let i = at < 0 ? args.length : at + 1; i < args.length; i++) {
    if (valued.has(args[i])) {
      i++;
    } else if (!args[i].startsWith("-")) {
      name = args[i];
      break;
    }
  }
  const invoked = group.verbs.find((verb) => verb.names.includes(name ?? ""));
  for (const verb of invoked ? [invoked] : group.verbs) {
    (await load(verb.module, "register"))(command, connect);
  }
}

/** Global flags that take a value as the next argument. */
const VALUED_FLAGS = new Set([
  "-a",
  "--address",
  "-n",
  "--namespace",
  "--timeout",
]);

/** The command group `args` invoke, if any (for help, none). */
function invokedGroup(args: readonly string[]) {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (VALUED_FLAGS.has(arg)) {
      i++;
    } else if (!arg.startsWith("-")) {
      return GROUPS.find((group) => group.names.includes(arg));
    }
  }
  return undefined;
}

/**
 * Builds the `ctr` command tree: with `args`, only the group they invoke
 * (every group when they invoke none, as for `--help`).
 */
export async function ctrProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command("ctr")
    .description("berth's debugging client")
    .addOption(
      new Option("-a, --address <path>", "address of berth's socket")
        .env("BERTH_ADDRESS").default(DEFAULT_ADDRESS),
    )
    .addOption(
      new Option("-n, --namespace <name>", "namespace to use with commands")
        .env("BERTH_NAMESPACE").default("default"),
    )
    .option("--timeout <duration>", "total timeout for commands", "0")
    // Global flags come before the command, as in ctr: what follows a
    // container's image or id may be its own command's flags.
    .enablePositionalOptions()
    .showHelpAfterError();
  const connect = () => {
    const opts = program.opts();
    return new Connection({
      address: opts.address,
      namespace: opts.namespace,
      timeoutMs: parseDuration(opts.timeout),
    });
  };
  const invoked = args && invokedGroup(args);
  for (const group of invoked ? [invoked] : GROUPS) {
    await addGroup(program, connect, group, invoked ? args : []);
  }
  return program;
}

/** Runs `berth ctr ARGS…`; returns the exit code. */
export async function runCtr(args: string[]): Promise<number> {
  const program = (await ctrProgram(args)).exitOverride();
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (err) {
    // A process's exit status: ctr exits with it and prints nothing.
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof Error && "exitCode" in err && "code" in err) {
      // commander already printed its usage message.
      return (err as { exitCode: number }).exitCode;
    }
    const message = err instanceof ConnectError
      ? err.rawMessage
      : (err as Error).message;
    console.error(`ctr: ${message}`);
    return 1;
  }
}
