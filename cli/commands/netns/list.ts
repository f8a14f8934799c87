/**
 * `berth ctr netns list`.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../../src/gen/berth/services/network/v1/network_pb.ts";
import { columns, formatLabels } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `netns` group. */
export function register(netns: Command, connect: () => Connection): void {
  netns.command("list").alias("ls")
    .description("list network namespaces")
    .argument("[filters...]", "containerd filters, any one matching")
    .option("-q, --quiet", "print only the name")
    .option("--json", "print as JSON")
    .action(async (filters: string[], opts) => {
      const conn = connect();
      const { namespaces } = await conn.client(Network).listNamespaces(
        { filters },
        { signal: conn.signal },
      );
      if (opts.json) {
        console.log(JSON.stringify(
          namespaces.map((n) => ({
            name: n.name,
            path: n.path,
            owner: n.owner,
            status: n.status,
            labels: n.labels,
          })),
          null,
          2,
        ));
      } else if (opts.quiet) {
        for (const n of namespaces) console.log(n.name);
      } else {
        console.log(columns([
          ["NAME", "PATH", "STATUS", "OWNER", "LABELS"],
          ...namespaces.map((n) => [
            n.name,
            n.path,
            n.status,
            n.owner || "-",
            formatLabels(n.labels),
          ]),
        ]));
      }
    });
}
