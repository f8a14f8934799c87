/**
 * `berth ctr`: the debugging client, shaped like containerd's `ctr`.
 *
 * @module
 */
import { Command, Option } from "commander";
import { ConnectError } from "@connectrpc/connect";
import { Connection } from "./_client.ts";
import { parseDuration } from "../src/types/duration.ts";
import { contentCommand } from "./commands/content.ts";
import { eventsCommand } from "./commands/events.ts";
import { imagesCommand } from "./commands/images.ts";
import { leasesCommand } from "./commands/leases.ts";
import { namespacesCommand } from "./commands/namespaces.ts";
import { pluginsCommand } from "./commands/plugins.ts";
import { snapshotsCommand } from "./commands/snapshots.ts";
import { versionCommand } from "./commands/version.ts";

/** The daemon's socket when neither `--address` nor `BERTH_ADDRESS` say. */
export const DEFAULT_ADDRESS = "/run/berth/berth.sock";

/** Builds the `ctr` command tree. */
export function ctrProgram(): Command {
  const program = new Command("ctr")
    .description("berth's debugging client")
    .addOption(
      new Option("-a, --address <path>", "address of berth's socket")
        .env("BERTH_ADDRESS").default(DEFAULT_ADDRESS),
    )
    .addOption(
      new Option("-n, --namespace <name>", "namespace to use with commands")
        .env("BERTH_NAMESPACE").default("default"),
    )
    .option("--timeout <duration>", "total timeout for commands", "0")
    .showHelpAfterError();
  const connect = () => {
    const opts = program.opts();
    return new Connection({
      address: opts.address,
      namespace: opts.namespace,
      timeoutMs: parseDuration(opts.timeout),
    });
  };
  versionCommand(program, connect);
  pluginsCommand(program, connect);
  namespacesCommand(program, connect);
  eventsCommand(program, connect);
  contentCommand(program, connect);
  leasesCommand(program, connect);
  snapshotsCommand(program, connect);
  imagesCommand(program, connect);
  return program;
}

/** Runs `berth ctr ARGS…`; returns the exit code. */
export async function runCtr(args: string[]): Promise<number> {
  const program = ctrProgram().exitOverride();
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof Error && "exitCode" in err && "code" in err) {
      // commander already printed its usage message.
      return (err as { exitCode: number }).exitCode;
    }
    const message = err instanceof ConnectError
      ? err.rawMessage
      : (err as Error).message;
    console.error(`ctr: ${message}`);
    return 1;
  }
}
