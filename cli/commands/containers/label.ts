/**
 * `berth ctr containers label CONTAINER [KEY=VALUE…]`: sets and clears a container's labels.
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../../_client.ts";
import { Containers } from "../../../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { compareUTF8, parseLabelArgs } from "../../_format.ts";
import { writeStdoutSync } from "../../_output.ts";

/** Adds the command to the `containers` group. */
export function register(
  containers: Command,
  connect: () => Connection,
): void {
  containers.command("label")
    .description("set and clear labels for a container")
    .usage("[flags] CONTAINER [<key>=<value>, ...]")
    .argument("[id]")
    .argument("[labels...]")
    .action(async (id: string | undefined, args: string[]) => {
      if (!id) {
        throw new Error("container id must be provided: invalid argument");
      }
      const labels = parseLabelArgs(args, "true");
      const conn = connect();
      await conn.api.loadContainer(id);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const { container } = await conn.api.service(Containers).update({
        container: { id, labels },
        updateMask: paths.length ? { paths } : undefined,
      });
      // ctr prints Go's random map order; sorted is one of them.
      writeStdoutSync(
        Object.entries(container?.labels ?? {}).map(([k, v]) => `${k}=${v}`)
          .sort(compareUTF8).join(",") + "\n",
      );
    });
}
