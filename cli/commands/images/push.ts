/**
 * `berth ctr images push` (also `berth ctr push`).
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { addPush } from "../../_images_commands.ts";

/** Adds the command to the `images` group. */
export function register(images: Command, connect: () => Connection): void {
  addPush(images, connect);
}
