/**
 * `berth ctr namespaces label`.
 *
 * @module
 */
import type { Command } from "commander";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { parseLabelArgs } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `namespaces` group. */
export function register(ns: Command, connect: () => Connection): void {
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
}
