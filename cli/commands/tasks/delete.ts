/**
 * `berth ctr tasks delete|rm [-f] [--exec-id ID] CONTAINER…`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { ExitError } from "../../_exit.ts";
import { log } from "../../_log.ts";
import { deleteProcess, getProcess, loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("delete").aliases(["del", "remove", "rm"])
    .description("delete one or more tasks")
    .usage("[command options] CONTAINER [CONTAINER, ...]")
    .argument("[ids...]")
    .option("-f, --force", "force delete task process")
    .option("--exec-id <id>", "process ID to kill")
    .action(async (ids: string[], opts) => {
      const conn = connect();
      const force = Boolean(opts.force);
      if (opts.execId) {
        await loadTask(conn, ids[0] ?? "");
        const ref = { containerId: ids[0], execId: opts.execId };
        await getProcess(conn, ref);
        const code = await deleteProcess(conn, ref, force);
        if (code) throw new ExitError(code);
        return;
      }
      let failure: unknown;
      for (const id of ids) {
        try {
          await loadTask(conn, id);
        } catch (err) {
          failure ??= err;
          log("error", `failed to load task from ${id}`, err);
          continue;
        }
        try {
          const code = await deleteProcess(
            conn,
            { containerId: id, execId: "" },
            force,
          );
          if (code) {
            log("warning", `task ${id} exit with non-zero exit code ${code}`);
          }
        } catch (err) {
          failure ??= err;
          log("error", `unable to delete ${id}`, err);
        }
      }
      if (failure) throw failure;
    });
}
