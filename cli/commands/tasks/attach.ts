/**
 * `berth ctr tasks attach CONTAINER`: the client's stdio joined to a
 * running task's FIFOs.
 *
 * @module
 */
import type { Command } from "commander";
import { FifoSet } from "../../../src/client/fifos.ts";
import type { Connection } from "../../_client.ts";
import { ExitError } from "../../_exit.ts";
import { rawTerminal, superviseProcess } from "../../_process.ts";
import { deleteProcess, getContainer, loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("attach")
    .description("attach to the IO of a running container")
    .usage("CONTAINER")
    .argument("[id]", "", "")
    .action(async (id: string) => {
      const conn = connect();
      const spec = (await getContainer(conn, id)).spec();
      const terminal = Boolean(spec.process?.terminal);
      using _raw = terminal ? rawTerminal() : undefined;
      const process = await loadTask(conn, id);
      const fifos = FifoSet.existing({
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        terminal,
      });
      const ref = { containerId: id, execId: "" };
      let status: number | undefined;
      try {
        status = await superviseProcess(conn, ref, fifos, {
          start: false,
          terminal,
        });
      } finally {
        await deleteProcess(conn, ref, false).catch(() => {});
      }
      if (status) throw new ExitError(status);
    });
}
