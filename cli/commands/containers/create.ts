/**
 * `berth ctr containers create [flags] IMAGE ID [CMD ARG…]`: a container from an image, as ctr makes it.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import {
  addContainerFlags,
  newContainerOptions,
} from "../../_container_flags.ts";
import { newContainer } from "../../_new_container.ts";

/** Adds the command to the `containers` group. */
export function register(
  containers: Command,
  connect: () => Connection,
): void {
  const create = containers.command("create")
    .description("create container")
    .usage(
      "[command options] [flags] Image|RootFS CONTAINER [COMMAND] [ARG...]",
    )
    .argument("[image]")
    .argument("[id]")
    .argument("[args...]")
    // Flags after the image belong to the container's command.
    .passThroughOptions();
  addContainerFlags(create)
    .action(async (ref: string, id: string, args: string[], opts) => {
      await newContainer(connect(), newContainerOptions(ref, id, args, opts));
    });
}
