/**
 * `berth ctr namespaces list`.
 *
 * @module
 */
import type { Command } from "commander";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { columns, formatLabels } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `namespaces` group. */
export function register(ns: Command, connect: () => Connection): void {
  ns.command("list").alias("ls")
    .description("list namespaces")
    .option("-q, --quiet", "print only the namespace name")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const conn = connect();
      const { namespaces } = await conn.client(Namespaces).list({}, {
        signal: conn.signal,
      });
      if (opts.json) {
        console.log(JSON.stringify(
          namespaces.map(({ name, labels }) => ({ name, labels })),
          null,
          2,
        ));
      } else if (opts.quiet) {
        for (const n of namespaces) console.log(n.name);
      } else {
        console.log(columns([
          ["NAME", "LABELS"],
          ...namespaces.map((n) => [n.name, formatLabels(n.labels)]),
        ]));
      }
    });
}
