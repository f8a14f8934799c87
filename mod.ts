/**
 * berth: a container runtime daemon speaking containerd's v1 API.
 *
 * One program, several modes:
 * - `berth daemon [--root DIR] [--state DIR] [--address SOCK] [--config FILE] [--log-level L]`
 * - `berth ctr …` — the debugging client
 * - `berth shim -namespace NS -id ID -address ADDR start|serve|delete` — the
 *   monitor of a group of containers (containerd's shim contract)
 * - `berth config default` — every setting with its default, as TOML
 * - `berth version`
 *
 * Each mode loads only its own modules, so the client and (later) the shim
 * stay small.
 *
 * @module
 */
import { REVISION, VERSION } from "./src/version.ts";

/**
 * A module of this program by path. Modes import their modules through it,
 * not through literals: Deno then loads only the running mode's module
 * graph at start-up (the daemon's alone is hundreds of files), and
 * `deno task compile` includes every mode explicitly.
 */
function local(path: string): string {
  return new URL(path, import.meta.url).href;
}

/** Runs berth with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args[0] === "ctr") {
    const { runCtr } = await import(local("./cli/mod.ts"));
    return await runCtr(args.slice(1));
  }
  if (args[0] === "shim") {
    const { runShim } = await import(local("./src/shim/main.ts"));
    return await runShim(args.slice(1));
  }
  // Only the modes parsed here load the command-line parser: a shim (one
  // per group of containers) never pays for it.
  const { Command } = await import("commander");
  let code = 0;
  const program = new Command("berth")
    .description("a container runtime daemon speaking containerd's v1 API")
    .exitOverride()
    .showHelpAfterError();
  program.command("version")
    .description("print berth's version")
    .action(() => console.log(`berth ${VERSION} ${REVISION}`));
  program.command("config")
    .description("configuration")
    .command("default")
    .description("print every setting with its default, as TOML")
    .action(async () => {
      const { defaultConfig, formatConfig } = await import(
        local("./src/daemon/config.ts")
      );
      Deno.stdout.writeSync(
        new TextEncoder().encode(formatConfig(defaultConfig())),
      );
    });
  program.command("daemon")
    .description("run the daemon")
    .option("--config <path>", "config file (TOML)")
    .option("--root <dir>", "persistent data root")
    .option("--state <dir>", "runtime state directory")
    .option("--address <path>", "API socket path")
    .option("--log-level <level>", "trace, debug, info, warn or error")
    .action(async (opts) => {
      const { runDaemon } = await import(local("./src/daemon/run.ts"));
      code = await runDaemon(opts);
    });
  program.command("ctr").description("the debugging client (berth ctr --help)");
  program.command("shim").description(
    "the monitor of a group of containers (berth shim -namespace NS -id ID -address ADDR start)",
  );
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (err) {
    if (err instanceof Error && "exitCode" in err) {
      return (err as { exitCode: number }).exitCode;
    }
    console.error(`berth: ${(err as Error).message}`);
    return 1;
  }
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
