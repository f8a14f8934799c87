/**
 * `berth ctr tasks kill [-s SIGNAL] [--exec-id ID | -a] CONTAINER`: the
 * container's stop signal (or the one given) to its task.
 *
 * @module
 */
import type { Command } from "commander";
import { STOP_SIGNAL_LABEL } from "../../../src/client/container.ts";
import { Process } from "../../../src/client/task.ts";
import type { Connection } from "../../_client.ts";
import { parseSignal } from "../../_signals.ts";
import { getContainer, loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("kill")
    .description("signal a container (default: SIGTERM)")
    .usage("[command options] [flags] CONTAINER")
    .argument("[id]", "", "")
    .option("-s, --signal <signal>", "signal to send to the container", "")
    .option("--exec-id <id>", "process ID to kill", "")
    .option("-a, --all", "send signal to all processes inside the container")
    .action(async (id: string, opts) => {
      if (!id) throw new Error("container id must be provided");
      if (opts.all && opts.execId) {
        throw new Error("specify an exec-id or all; not both");
      }
      const conn = connect();
      const container = await getContainer(conn, id);
      const signal = parseSignal(
        opts.signal ||
          (container.record.labels[STOP_SIGNAL_LABEL] ?? "SIGTERM"),
      );
      await loadTask(conn, id);
      await new Process(conn.api, { containerId: id, execId: opts.execId })
        .kill(signal, { all: Boolean(opts.all) });
    });
}
