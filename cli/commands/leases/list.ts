/**
 * `berth ctr leases list|ls [-q|--json] [FILTER…]`: leases, as ctr's table.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { writeFull } from "../../../src/client/content.ts";
import { errorMessage } from "../../../src/client/errors.ts";
import { Leases } from "../../../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { formatRFC3339, tabwrite } from "../../_format.ts";

/** Adds the command to the `leases` group. */
export function register(leases: Command, connect: () => Connection): void {
  leases.command("list").alias("ls")
    .description("list all active leases")
    .argument("[filters...]", "filters, e.g. id~=^tmp")
    .option("-q, --quiet", "print only the lease ids")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      let list;
      try {
        list = (await conn.api.service(Leases).list({ filters })).leases;
      } catch (err) {
        throw new Error(`failed to list leases: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      if (opts.json) {
        console.log(JSON.stringify(
          list.map((l) => ({
            id: l.id,
            createdAt: l.createdAt
              ? timestampDate(l.createdAt).toISOString()
              : null,
            labels: l.labels,
          })),
          null,
          2,
        ));
        return;
      }
      if (opts.quiet) {
        for (const l of list) console.log(l.id);
        return;
      }
      let text = "ID\tCREATED AT\tLABELS\t\n";
      for (const l of list) {
        const labels = Object.entries(l.labels).map(([k, v]) => `${k}=${v}`)
          .sort().join(",") || "-";
        const created = formatRFC3339(
          l.createdAt ? timestampDate(l.createdAt) : new Date(0),
        );
        text += `${l.id}\t${created}\t${labels}\t\n`;
      }
      await writeFull(
        Deno.stdout,
        new TextEncoder().encode(
          tabwrite(text, {
            minwidth: 1,
            tabwidth: 8,
            padding: 1,
            padchar: " ",
          }),
        ),
      );
    });
}
