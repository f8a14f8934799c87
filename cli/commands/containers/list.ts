/**
 * `berth ctr containers list|ls [-q] [FILTER…]`: container records, as ctr's table.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import {
  type Container as ContainerRecord,
  Containers,
} from "../../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { tabwrite } from "../../_format.ts";
import { writeStdoutSync } from "../../_output.ts";

/** ctr's container table: tabwriter(minwidth 4, tabwidth 8, padding 4, ' '). */
const TABLE = { minwidth: 4, tabwidth: 8, padding: 4, padchar: " " };

/** Adds the command to the `containers` group. */
export function register(
  containers: Command,
  connect: () => Connection,
): void {
  containers.command("list").alias("ls")
    .description("list containers")
    .usage("[flags] [<filter>, ...]")
    .argument("[filters...]")
    .option("-q, --quiet", "print only the container id")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const found: ContainerRecord[] = [];
      for await (
        const msg of conn.api.service(Containers).listStream({ filters })
      ) {
        if (msg.container) found.push(msg.container);
      }
      if (opts.quiet) {
        writeStdoutSync(found.map((c) => `${c.id}\n`).join(""));
        return;
      }
      let text = "CONTAINER\tIMAGE\tRUNTIME\t\n";
      for (const c of found) {
        text += `${c.id}\t${c.image || "-"}\t${c.runtime?.name ?? ""}\t\n`;
      }
      writeStdoutSync(tabwrite(text, TABLE));
    });
}
