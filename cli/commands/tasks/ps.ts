/**
 * `berth ctr tasks ps CONTAINER`: the task's processes, as ctr's table.
 *
 * @module
 */
import type { Command } from "commander";
import { fromBinary } from "@bufbuild/protobuf";
import { Tasks } from "../../../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { ProcessDetailsSchema } from "../../../src/gen/containerd/runc/options/oci_pb.ts";
import type { Connection } from "../../_client.ts";
import { tabwrite } from "../../_format.ts";
import { writeStdoutSync } from "../../_output.ts";
import { loadTask } from "../../_tasks.ts";

/** A process's `%+v` info in `tasks ps`: runc's exec details, or `-`. */
function processInfo(info: { typeUrl: string; value: Uint8Array } | undefined) {
  if (!info) return "-";
  if (info.typeUrl.endsWith(ProcessDetailsSchema.typeName)) {
    const { execId } = fromBinary(ProcessDetailsSchema, info.value);
    return `&ProcessDetails{ExecID:${execId},XXX_unrecognized:[],}`;
  }
  return info.typeUrl;
}

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("ps")
    .description("list processes for container")
    .usage("CONTAINER")
    .argument("[id]", "", "")
    .action(async (id: string) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      await loadTask(conn, id);
      const { processes } = await conn.api.service(Tasks).listPids({
        containerId: id,
      });
      let text = "PID\tINFO\n";
      for (const p of processes) text += `${p.pid}\t${processInfo(p.info)}\n`;
      writeStdoutSync(tabwrite(text, { minwidth: 1, tabwidth: 8, padding: 4 }));
    });
}
