/**
 * The flags that describe a new container, shared by `berth ctr run` and
 * `berth ctr containers create` as ctr shares them.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { DEFAULT_RUNTIME, type NewContainerOptions } from "./_new_container.ts";

/** Collects a repeated flag's values. */
const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  value,
];

/** Parses a number flag, rejecting what is not one. */
function numberFlag(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new Error(
        `invalid value ${JSON.stringify(value)} for flag --${name}`,
      );
    }
    return n;
  };
}

/** Adds the container flags to `command`; returns it. */
export function addContainerFlags(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--snapshotter <name>",
        "snapshotter name. Empty value stands for the default value.",
      ).env("BERTH_SNAPSHOTTER").default(""),
    )
    .option("--cwd <dir>", "specify the working directory of the process")
    .option(
      "-e, --env <KEY=VALUE>",
      "specify additional container environment variables (e.g. FOO=bar)",
      collect,
      [],
    )
    .option(
      "--label <KEY=VALUE>",
      "specify additional labels (e.g. foo=bar)",
      collect,
      [],
    )
    .option(
      "--mount <spec>",
      "specify additional container mount (e.g. type=bind,src=/tmp,dst=/host,options=rbind:ro)",
      collect,
      [],
    )
    .option("--net-host", "enable host networking for the container")
    .option(
      "--with-ns <type:path>",
      "specify existing Linux namespaces to join at container runtime (format '<nstype>:<path>')",
      collect,
      [],
    )
    .option("--privileged", "run privileged container")
    .option("--read-only", "set the containers filesystem as readonly")
    .option("--runtime <name>", "runtime name", DEFAULT_RUNTIME)
    .option("-t, --tty", "allocate a TTY for the container")
    .option("-u, --user <user>", "user id or name (berth's addition)")
    .addOption(
      new Option(
        "--memory-limit <bytes>",
        "memory limit (in bytes) for the container",
      ).argParser(numberFlag("memory-limit")).default(0),
    );
}

/** The CPU flags `run` has and `containers create` has not (as in ctr). */
export function addCpuFlags(command: Command): Command {
  return command
    .addOption(
      new Option("--cpus <n>", "set the CFS cpu quota")
        .argParser(numberFlag("cpus")).default(0),
    )
    .addOption(
      new Option("--cpu-shares <n>", "set the cpu shares")
        .argParser(numberFlag("cpu-shares")).default(1024),
    );
}

/** The new container that `ref`, `id`, `args` and the parsed flags describe. */
export function newContainerOptions(
  ref: string,
  id: string,
  args: string[],
  // deno-lint-ignore no-explicit-any
  opts: Record<string, any>,
): NewContainerOptions {
  if (!ref) throw new Error("image ref must be provided");
  if (!id) throw new Error("container id must be provided");
  return {
    id,
    ref,
    args,
    env: opts.env,
    cwd: opts.cwd,
    user: opts.user,
    mounts: opts.mount,
    labels: opts.label,
    netHost: opts.netHost,
    withNs: opts.withNs,
    memoryLimit: opts.memoryLimit,
    cpus: opts.cpus,
    cpuShares: opts.cpuShares,
    tty: opts.tty,
    privileged: opts.privileged,
    readOnly: opts.readOnly,
    runtime: opts.runtime,
    snapshotter: opts.snapshotter,
  };
}
