/**
 * The init process's exit status on disk (`BUNDLE/exit`), so that a daemon
 * started after the exit can still learn it.
 *
 * @module
 */
import { join } from "../types/path.ts";
import type { ExitStatus } from "./reaper.ts";
import { formatRfc3339Nano, parseRfc3339Nano } from "../types/time.ts";

/** Name of the exit file inside the bundle. */
export const EXIT_FILE = "exit";

/** Writes `exit` to `BUNDLE/exit` as JSON (`{"status":N,"exitedAt":ISO}`). */
export function writeExitFile(bundle: string, exit: ExitStatus): void {
  const path = join(bundle, EXIT_FILE);
  const body = JSON.stringify({
    status: exit.status,
    exitedAt: formatRfc3339Nano(exit.exitedAt),
  });
  // Small, on the state tmpfs: written at once, on the exit's path.
  Deno.writeTextFileSync(`${path}.tmp`, body + "\n");
  Deno.renameSync(`${path}.tmp`, path);
}

/** Reads `BUNDLE/exit`, or null when there is none (or it is unreadable). */
export async function readExitFile(bundle: string): Promise<ExitStatus | null> {
  try {
    const raw = JSON.parse(await Deno.readTextFile(join(bundle, EXIT_FILE)));
    if (typeof raw.status !== "number") return null;
    return {
      status: raw.status,
      exitedAt: parseRfc3339Nano(raw.exitedAt) ?? new Date(raw.exitedAt),
    };
  } catch {
    return null;
  }
}
