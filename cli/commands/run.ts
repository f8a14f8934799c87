/**
 * `berth ctr run [flags] IMAGE ID [CMD ARGS…]`: a container from an image,
 * its task run attached to the client's stdio (or detached), as ctr 1.6
 * does it, from primitives: the container made on the client
 * (`_new_container.ts`), the task run through FIFOs (`_process.ts`).
 *
 * @module
 */
import type { Command } from "commander";
import type { Connection } from "../_client.ts";
import {
  addContainerFlags,
  addCpuFlags,
  newContainerOptions,
} from "../_container_flags.ts";
import { newContainer } from "../_new_container.ts";
import { ExitError } from "../_exit.ts";
import { runTask } from "../_process.ts";
import { Container } from "../../src/client/container.ts";
import {
  attachNetworks,
  createContainerNetns,
  parsePortMapping,
  releaseContainerNetwork,
} from "../_network.ts";

const collect = (value: string, previous: string[]): string[] => [
  ...previous,
  value,
];

/** Adds the command to `program`. */
export function runCommand(
  program: Command,
  connect: () => Connection,
): void {
  const run = program.command("run")
    .description("run a container")
    .usage("[command options] [flags] Image|RootFS ID [COMMAND] [ARG...]")
    .argument("[image]")
    .argument("[id]")
    .argument("[args...]")
    // Flags after the image belong to the container's command.
    .passThroughOptions()
    .option(
      "--rm",
      "remove the container after running, cannot be used with --detach",
    )
    .option("--null-io", "send all IO to /dev/null")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution, cannot be used with --rm",
    )
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .option("--cni", "attach the container to the daemon's default network")
    .option(
      "--network <name>",
      "attach the container to this CNI network (repeatable)",
      collect,
      [],
    )
    .option(
      "-p, --publish <HOST:CTR[/proto]>",
      "publish a container port on the host through portmap (repeatable)",
      collect,
      [],
    );
  addContainerFlags(addCpuFlags(run))
    .action(async (ref: string, id: string, args: string[], opts) => {
      if (opts.rm && opts.detach) {
        throw new Error("flags --detach and --rm cannot be specified together");
      }
      const conn = connect();
      const options = newContainerOptions(ref, id, args, opts);
      const networks: string[] = [
        ...(opts.cni ? [""] : []),
        ...opts.network,
      ];
      const ports = opts.publish.map(parsePortMapping);
      if (ports.length && networks.length === 0) networks.push("");
      if (networks.length && (options.netHost || options.withNs?.length)) {
        throw new Error(
          "--cni, --network and -p cannot be combined with --net-host or --with-ns",
        );
      }
      let container;
      if (networks.length) {
        const netns = await createContainerNetns(conn, options.id);
        try {
          container = await newContainer(conn, {
            ...options,
            withNs: [`network:${netns.path}`],
            // Its own netns gets its own name, which its hosts file lists.
            hostname: options.id,
            mounts: [...options.mounts, ...netns.mounts],
          });
        } catch (err) {
          await releaseContainerNetwork(conn, options.id).catch(() => {});
          throw err;
        }
        try {
          await attachNetworks(conn, options.id, networks, ports);
        } catch (err) {
          await new Container(conn.api, container).delete().catch(() => {});
          throw err;
        }
      } else {
        container = await newContainer(conn, options);
      }
      let status: number | undefined;
      try {
        status = await runTask(conn, container, {
          terminal: Boolean(opts.tty),
          detach: opts.detach,
          nullIO: opts.nullIo,
          fifoDir: opts.fifoDir,
        });
      } finally {
        if (opts.rm) {
          await new Container(conn.api, container).delete().catch(() => {});
        }
      }
      if (status) throw new ExitError(status);
    });
}
