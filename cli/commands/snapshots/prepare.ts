/**
 * `berth ctr snapshots prepare [-t TARGET] [--mounts] KEY [PARENT]`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { addCreateCommand } from "../../_snapshots.ts";

/** Adds the command to the `snapshots` group. */
export function register(
  snapshots: Command,
  connect: () => Connection,
): void {
  addCreateCommand(
    snapshots,
    connect,
    "prepare",
    "prepare a snapshot from a committed snapshot",
  );
}
