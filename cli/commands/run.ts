/**
 * `berth ctr run [flags] IMAGE ID [CMD ARGS…]`: a container from an image,
 * its task run attached to the client's stdio (or detached), as ctr 1.6
 * does it, from primitives: the container made on the client
 * (`_new_container.ts`), the task run through FIFOs (`_process.ts`).
 *
 * @module
 */
import { type Command, Option } from "commander";
import type { Connection } from "../_client.ts";
import {
  DEFAULT_RUNTIME,
  newContainer,
  type NewContainerOptions,
} from "../_new_container.ts";
import { ExitError } from "../_exit.ts";
import { runTask } from "../_process.ts";
import { deleteContainer } from "./containers.ts";

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

/** Adds the command to `program`. */
export function runCommand(
  program: Command,
  connect: () => Connection,
): void {
  program.command("run")
    .description("run a container")
    .usage("[command options] [flags] Image|RootFS ID [COMMAND] [ARG...]")
    .argument("[image]")
    .argument("[id]")
    .argument("[args...]")
    // Flags after the image belong to the container's command.
    .passThroughOptions()
    .option(
      "--rm",
      "remove the container after running, cannot be used with --detach",
    )
    .option("--null-io", "send all IO to /dev/null")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution, cannot be used with --rm",
    )
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .addOption(
      new Option("--cpus <n>", "set the CFS cpu quota")
        .argParser(numberFlag("cpus")).default(0),
    )
    .addOption(
      new Option("--cpu-shares <n>", "set the cpu shares")
        .argParser(numberFlag("cpu-shares")).default(1024),
    )
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
    )
    .action(async (ref: string, id: string, args: string[], opts) => {
      if (!ref) throw new Error("image ref must be provided");
      if (!id) throw new Error("container id must be provided");
      if (opts.rm && opts.detach) {
        throw new Error("flags --detach and --rm cannot be specified together");
      }
      const conn = connect();
      const options: NewContainerOptions = {
        id,
        ref,
        args,
        env: opts.env,
        cwd: opts.cwd,
        user: opts.user,
        mounts: opts.mount,
        labels: opts.label,
        netHost: opts.netHost,
        memoryLimit: opts.memoryLimit,
        cpus: opts.cpus,
        cpuShares: opts.cpuShares,
        tty: opts.tty,
        privileged: opts.privileged,
        readOnly: opts.readOnly,
        runtime: opts.runtime,
        snapshotter: opts.snapshotter,
      };
      const container = await newContainer(conn, options);
      let status: number | undefined;
      try {
        status = await runTask(conn, container, {
          terminal: Boolean(opts.tty),
          detach: opts.detach,
          nullIO: opts.nullIo,
          fifoDir: opts.fifoDir,
        });
      } finally {
        if (opts.rm) await deleteContainer(conn, container).catch(() => {});
      }
      if (status) throw new ExitError(status);
    });
}
