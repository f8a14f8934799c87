/**
 * Deterministic crash points for crash-recovery tests. A test starts the
 * daemon with `BERTH_CRASH_AT=<name>`; the first time the code reaches
 * `crashPoint(name)`, the process kills itself with SIGKILL, exactly as an
 * operator's `kill -9` would at that moment. Without the variable (every
 * real deployment) a crash point does nothing.
 *
 * The points (each where a crash leaves the most half-done state):
 *
 * - `content-commit`: a blob's bytes are verified and on disk (renamed
 *   into `blobs/`, or already there from another namespace), but this
 *   namespace's ownership record is not written yet;
 * - `unpack-commit`: a layer is applied onto its extraction snapshot (by
 *   the differ, for a server-side unpack or a client's `Diff.Apply`), which
 *   is not committed yet.
 *
 * @module
 */

/** The names of the crash points. */
export type CrashPointName = "content-commit" | "unpack-commit";

const armed = readArmed();

function readArmed(): string | undefined {
  try {
    return Deno.env.get("BERTH_CRASH_AT") || undefined;
  } catch {
    return undefined; // No env permission: never armed.
  }
}

/** Kills this process with SIGKILL when `BERTH_CRASH_AT` names `name`. */
export function crashPoint(name: CrashPointName): void {
  if (armed === name) Deno.kill(Deno.pid, "SIGKILL");
}
