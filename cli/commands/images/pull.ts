/**
 * `berth ctr images pull` (also `berth ctr pull`).
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { addPull } from "../../_images_commands.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  addPull(images, connect);
}
