/**
 * The shim's `delete` action, also run in the daemon for berth's own shim:
 * after a shim died, runc force-deletes the container it left (killing
 * what still runs in it), from the runc options the bundle records.
 *
 * @module
 */
import { join } from "../types/path.ts";
import { Runc } from "./runc.ts";
import { defaultRuncRoot, RUNC_OPTIONS_FILE } from "./task.ts";

/** Force-deletes container `id` of `bundle`; nothing to do if never made. */
export async function deleteContainer(
  bundle: string,
  namespace: string,
  id: string,
): Promise<void> {
  let saved: { binary?: string; root?: string };
  try {
    saved = JSON.parse(
      await Deno.readTextFile(join(bundle, RUNC_OPTIONS_FILE)),
    );
  } catch {
    // never created: nothing for runc to delete
    return;
  }
  const runc = new Runc({
    binary: saved.binary,
    root: saved.root ?? defaultRuncRoot(bundle, namespace),
    log: join(bundle, "log.json"),
  });
  await runc.delete(id, true).catch(() => {});
}
