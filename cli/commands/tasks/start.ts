/**
 * `berth ctr tasks start [flags] CONTAINER`: a created container's task,
 * run attached to the client's stdio (or detached).
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { ExitError } from "../../_exit.ts";
import { runTask } from "../../_process.ts";
import { getContainer } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("start")
    .description("start a container that has been created")
    .usage("[command options] CONTAINER")
    .argument("[id]", "", "")
    .option("--null-io", "send all IO to /dev/null")
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .option("--pid-file <path>", "file path to write the task's pid")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution",
    )
    .action(async (id: string, opts) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      const container = await getContainer(conn, id);
      const status = await runTask(conn, container.record, {
        terminal: Boolean(container.spec().process?.terminal),
        detach: opts.detach,
        nullIO: opts.nullIo,
        fifoDir: opts.fifoDir,
        pidFile: opts.pidFile,
      });
      if (status) throw new ExitError(status);
    });
}
