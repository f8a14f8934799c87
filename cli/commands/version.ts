/**
 * `berth ctr version`: client and server versions, as ctr prints them.
 *
 * @module
 */
import type { Command } from "commander";
import { Introspection } from "../../src/gen/containerd/services/introspection/v1/introspection_pb.ts";
import { Version } from "../../src/gen/containerd/services/version/v1/version_pb.ts";
import { REVISION, VERSION } from "../../src/version.ts";
import type { Connection } from "../_client.ts";

/** Adds the command to `program`. */
export function versionCommand(
  program: Command,
  connect: () => Connection,
): void {
  program.command("version")
    .description("print the client and server versions")
    .action(async () => {
      console.log("Client:");
      console.log(`  Version:  ${VERSION}`);
      console.log(`  Revision: ${REVISION}`);
      console.log(`  Deno version: ${Deno.version.deno}`);
      console.log("");
      const conn = connect();
      const signal = conn.signal;
      const version = await conn.client(Version).version({}, { signal });
      console.log("Server:");
      console.log(`  Version:  ${version.version}`);
      console.log(`  Revision: ${version.revision}`);
      const server = await conn.client(Introspection).server({}, { signal });
      console.log(`  UUID: ${server.uuid}`);
    });
}
