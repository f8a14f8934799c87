/**
 * `berth ctr namespaces remove`.
 *
 * @module
 */
import type { Command } from "commander";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import type { Connection } from "../../_client.ts";

/** Adds the command to the `namespaces` group. */
export function register(ns: Command, connect: () => Connection): void {
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
