/**
 * `berth ctr tasks metrics [--format table|json] CONTAINER`: one sample of
 * the task's cgroup metrics, as ctr prints it.
 *
 * @module
 */
import type { Command } from "commander";
import { Task } from "../../../src/client/task.ts";
import type { Connection } from "../../_client.ts";
import { decodeMetrics, metricsJSON, metricsTable } from "../../_metrics.ts";
import { writeStdoutSync } from "../../_output.ts";
import { loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("metrics").alias("metric")
    .description(
      "get a single data point of metrics for a task with the built-in Linux runtime",
    )
    .usage("[command options] CONTAINER")
    .argument("[id]", "", "")
    .option("--format <format>", '"table" or "json"', "table")
    .action(async (id: string, opts) => {
      const conn = connect();
      await loadTask(conn, id);
      const metrics = await new Task(conn.api, { containerId: id, execId: "" })
        .metrics();
      if (metrics.length === 0) throw new Error("no metrics received");
      const metric = metrics[0];
      const decoded = decodeMetrics(metric.data);
      if (opts.format === "table") {
        writeStdoutSync(metricsTable(metric, decoded));
      } else if (opts.format === "json") {
        writeStdoutSync(metricsJSON(decoded) + "\n");
      } else throw new Error("format must be table or json");
    });
}
