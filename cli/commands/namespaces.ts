/**
 * `berth ctr namespaces create|ls|label|rm`.
 *
 * @module
 */
import type { Command } from "commander";
import { Namespaces } from "../../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import type { Connection } from "../_client.ts";
import { columns, formatLabels, parseLabelArgs } from "../_format.ts";

/** Adds the command to `program`. */
export function namespacesCommand(
  program: Command,
  connect: () => Connection,
): void {
  const ns = program.command("namespaces").aliases(["namespace", "ns"])
    .description("manage namespaces");

  ns.command("create").alias("c")
    .description("create a new namespace; it must be unique")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, labels: string[]) => {
      const conn = connect();
      await conn.client(Namespaces).create(
        { namespace: { name, labels: parseLabelArgs(labels) } },
        { signal: conn.signal },
      );
    });

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

  ns.command("label")
    .description("set and clear labels for a namespace; an empty value clears")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, args: string[]) => {
      const conn = connect();
      const labels = parseLabelArgs(args);
      await conn.client(Namespaces).update({
        namespace: { name, labels },
        updateMask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
      }, { signal: conn.signal });
    });

  ns.command("remove").alias("rm")
    .description("remove one or more namespaces; each must be empty")
    .argument("<names...>")
    .action(async (names: string[]) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const name of names) {
        try {
          await conn.client(Namespaces).delete({ name }, {
            signal: conn.signal,
          });
        } catch (err) {
          failure ??= new Error(
            `unable to delete ${name}: ${(err as Error).message}`,
          );
          console.error(`unable to delete ${name}: ${(err as Error).message}`);
          continue;
        }
        console.log(name);
      }
      if (failure) throw failure;
    });
}
