/**
 * `berth ctr netns create|ls|label|rm`: named network namespaces.
 *
 * @module
 */
import type { Command } from "commander";
import { Network } from "../../src/gen/berth/services/network/v1/network_pb.ts";
import type { Connection } from "../_client.ts";
import { columns, formatLabels, parseLabelArgs } from "../_format.ts";

/** Adds the command to `program`. */
export function netnsCommand(
  program: Command,
  connect: () => Connection,
): void {
  const netns = program.command("netns")
    .description("manage named network namespaces");

  netns.command("create").alias("c")
    .description("create a network namespace; prints its path")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, labels: string[]) => {
      const conn = connect();
      const { namespace } = await conn.client(Network).createNamespace(
        { namespace: { name, labels: parseLabelArgs(labels) } },
        { signal: conn.signal },
      );
      console.log(namespace!.path);
    });

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

  netns.command("label")
    .description("set and clear labels; an empty value clears")
    .argument("<name>")
    .argument("[labels...]", "KEY=VALUE labels")
    .action(async (name: string, args: string[]) => {
      const conn = connect();
      const labels = parseLabelArgs(args);
      await conn.client(Network).updateNamespace({
        namespace: { name, labels },
        updateMask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
      }, { signal: conn.signal });
    });

  netns.command("remove").alias("rm")
    .description("remove network namespaces (refused while in use)")
    .argument("<names...>")
    .option("-f, --force", "remove even while in use (detaches attachments)")
    .action(async (names: string[], opts) => {
      const conn = connect();
      let failure: Error | undefined;
      for (const name of names) {
        try {
          await conn.client(Network).deleteNamespace(
            { name, force: Boolean(opts.force) },
            { signal: conn.signal },
          );
          console.log(name);
        } catch (err) {
          const message = `unable to delete ${name}: ${(err as Error).message}`;
          console.error(message);
          failure ??= new Error(message);
        }
      }
      if (failure) throw failure;
    });
}
