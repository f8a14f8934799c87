/**
 * `berth ctr pull`: the same command as `berth ctr images pull`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../_client.ts";
import { addPull } from "../_images_commands.ts";

/** Adds the command to `program`. */
export function pullCommand(program: Command, connect: () => Connection): void {
  addPull(program, connect);
}
