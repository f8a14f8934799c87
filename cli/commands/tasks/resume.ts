/**
 * `berth ctr tasks resume CONTAINER`.
 *
 * @module
 */
import type { Command } from "commander";
import { Task } from "../../../src/client/task.ts";
import type { Connection } from "../../_client.ts";
import { loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("resume")
    .description("resume a paused container")
    .usage("CONTAINER")
    .argument("[id]", "", "")
    .action(async (id: string) => {
      const conn = connect();
      await loadTask(conn, id);
      await new Task(conn.api, { containerId: id, execId: "" }).resume();
    });
}
