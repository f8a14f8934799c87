/**
 * `berth ctr tasks list|ls [-q]`: every task, as ctr's table.
 *
 * @module
 */
import type { Command } from "commander";
import { Tasks } from "../../../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../../../src/gen/containerd/types/task/task_pb.ts";
import type { Connection } from "../../_client.ts";
import { tabwrite } from "../../_format.ts";
import { writeStdoutSync } from "../../_output.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("list").alias("ls")
    .description("list tasks")
    .usage("[command options] [flags]")
    .option("-q, --quiet", "print only the task id")
    .action(async (opts) => {
      const conn = connect();
      const { tasks: list } = await conn.api.service(Tasks).list({});
      if (opts.quiet) {
        writeStdoutSync(list.map((t) => `${t.id}\n`).join(""));
        return;
      }
      let text = "TASK\tPID\tSTATUS\t\n";
      for (const t of list) text += `${t.id}\t${t.pid}\t${Status[t.status]}\n`;
      writeStdoutSync(
        tabwrite(text, { minwidth: 4, tabwidth: 8, padding: 4, padchar: " " }),
      );
    });
}
