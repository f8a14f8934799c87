/**
 * Test fixture for the commands that run containers: a daemon on private
 * paths with the busybox test image imported, a FIFO directory of its own
 * for both clients, and every task and container gone afterwards, even
 * when the test failed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { CommandResult, TestDaemon } from "../tests/_harness.ts";
import { fifoDir, withBusybox } from "../tests/_containers.ts";

/** The reference the busybox image is imported as. */
export { BUSYBOX as IMAGE } from "../tests/_containers.ts";

/** The program's entry point, for spawning `berth ctr` directly. */
export const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));

/** A daemon with busybox, and both clients with FIFOs in a private place. */
export interface BusyboxDaemon {
  /** The daemon. */
  daemon: TestDaemon;
  /** The FIFO directory both clients use. */
  fifoDir: string;
  /** Runs `berth ctr ARGS…` (stdin text optional). */
  berth(args: string[], stdin?: string): Promise<CommandResult>;
  /** Runs the real `ctr ARGS…` (stdin text optional). */
  ctr(args: string[], stdin?: string): Promise<CommandResult>;
}

/** Runs `fn` against a fresh daemon with busybox imported. */
export async function withBusyboxDaemon(
  fn: (env: BusyboxDaemon) => Promise<void>,
): Promise<void> {
  const stdin = (text?: string) => text === undefined ? {} : { stdin: text };
  await withBusybox((daemon) =>
    fn({
      daemon,
      fifoDir: fifoDir(daemon),
      berth: (args, text) => daemon.berth(args, stdin(text)),
      ctr: (args, text) => daemon.ctr(args, stdin(text)),
    })
  );
}
