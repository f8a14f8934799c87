/**
 * `berth ctr tasks exec --exec-id ID [flags] CONTAINER CMD [ARG…]`: a new
 * process in a running task, attached to the client's stdio.
 *
 * @module
 */
import type { Command } from "commander";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { NULL_IO } from "../../../src/client/fifos.ts";
import { processJSON } from "../../../src/client/spec_json.ts";
import { PROCESS_TYPE_URL } from "../../../src/client/task.ts";
import { Tasks } from "../../../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import type { SpecProcess } from "../../../src/oci/spec.ts";
import { withUser } from "../../../src/oci/opts.ts";
import type { Connection } from "../../_client.ts";
import { ExitError } from "../../_exit.ts";
import { openStdio, rawTerminal, superviseProcess } from "../../_process.ts";
import { deleteProcess, getContainer, loadTask } from "../../_tasks.ts";

/** Adds the command to the `tasks` group. */
export function register(tasks: Command, connect: () => Connection): void {
  tasks.command("exec")
    .description("execute additional processes in an existing container")
    .usage("[command options] [flags] CONTAINER CMD [ARG...]")
    .argument("[id]", "", "")
    .argument("[args...]")
    .passThroughOptions()
    .option("--cwd <dir>", "working directory of the new process")
    .option("-t, --tty", "allocate a TTY for the container")
    .option(
      "-d, --detach",
      "detach from the task after it has started execution",
    )
    .requiredOption("--exec-id <id>", "exec specific id for the process")
    .option("--fifo-dir <dir>", "directory used for storing IO FIFOs")
    .option("--user <user>", "user id or name")
    .action(async (id: string, args: string[], opts) => {
      if (!id) throw new Error("container id must be provided");
      const conn = connect();
      const spec = (await getContainer(conn, id)).spec();
      const task = await loadTask(conn, id);
      if (opts.user) {
        // Names resolve in the running container's root filesystem.
        await withUser(opts.user, { rootfs: `/proc/${task.pid}/root` })(spec);
      }
      const terminal = Boolean(opts.tty);
      const process: SpecProcess = {
        ...spec.process!,
        terminal,
        args,
        cwd: opts.cwd || spec.process!.cwd,
      };
      const ref = { containerId: id, execId: opts.execId as string };
      using _raw = terminal && !opts.detach ? rawTerminal() : undefined;
      // Detached, its stdio goes nowhere: no client would read the FIFOs.
      const fifos = opts.detach
        ? undefined
        : await openStdio(opts.execId, { terminal, fifoDir: opts.fifoDir });
      try {
        await conn.api.service(Tasks).exec({
          ...ref,
          ...fifos?.paths ?? { ...NULL_IO, terminal },
          spec: create(AnySchema, {
            typeUrl: PROCESS_TYPE_URL,
            value: new TextEncoder().encode(processJSON(process)),
          }),
        });
      } catch (err) {
        await fifos?.[Symbol.asyncDispose]();
        throw err;
      }
      let status: number | undefined;
      try {
        status = await superviseProcess(conn, ref, fifos, {
          start: true,
          detach: opts.detach,
          terminal,
        });
      } finally {
        if (!opts.detach) {
          await deleteProcess(conn, ref, false).catch(() => {});
        }
      }
      if (status) throw new ExitError(status);
    });
}
