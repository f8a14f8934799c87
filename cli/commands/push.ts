/**
 * `berth ctr push`: the same command as `berth ctr images push`.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../_client.ts";
import { addPush } from "../_images_commands.ts";

/** Adds the command to `program`. */
export function pushCommand(program: Command, connect: () => Connection): void {
  addPush(program, connect);
}
