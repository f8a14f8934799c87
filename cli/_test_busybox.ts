/**
 * Test fixture for the commands that run containers: a daemon on private
 * paths with the busybox test image imported, a FIFO directory of its own
 * for both clients, and every task and container gone afterwards, even
 * when the test failed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type CommandResult,
  startDaemon,
  type TestDaemon,
} from "../tests/_harness.ts";
import { buildImage, saveOciArchive } from "../tests/fixtures/images.ts";

/** The reference the busybox image is imported as. */
export const IMAGE = "docker.io/library/busybox:latest";

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
  await using daemon = await startDaemon();
  const busybox = await buildImage("busybox");
  const archive = `${daemon.dir}/busybox.tar`;
  await saveOciArchive(busybox.layout, archive, IMAGE);
  const imported = await daemon.ctr(["images", "import", archive]);
  assert.equal(imported.code, 0, imported.stderr);
  const fifoDir = `${daemon.dir}/fifo`;
  const stdin = (text?: string) => text === undefined ? {} : { stdin: text };
  try {
    await fn({
      daemon,
      fifoDir,
      berth: (args, text) => daemon.berth(args, stdin(text)),
      ctr: (args, text) => daemon.ctr(args, stdin(text)),
    });
  } finally {
    const ids = (await daemon.ctr(["containers", "ls", "-q"])).stdout
      .split("\n").filter(Boolean);
    for (const id of ids) {
      await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
      await daemon.ctr(["tasks", "rm", "-f", id]);
      await daemon.ctr(["containers", "rm", id]);
    }
  }
}
