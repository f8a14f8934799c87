/**
 * `berth ctr namespaces create`.
 *
 * @module
 */
import type { Command } from "commander";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { parseLabelArgs } from "../../_format.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `namespaces` group. */
export function register(ns: Command, connect: () => Connection): void {
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
}
