/**
 * Task bundles: `STATE/io.containerd.runtime.v2.task/NS/ID/`, the OCI
 * bundle a shim runs (`config.json`, `rootfs/`) plus what the daemon needs
 * to find the task again after a restart (`runtime`, and the shim's
 * `address`).
 *
 * A task's start and end write and remove a handful of small files on the
 * state tmpfs: that is done synchronously, microseconds each, rather than
 * as one worker-thread round trip per file, which on a busy machine costs
 * a scheduling delay each.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { unmountAll, unmountRecursive } from "../mount/mod.ts";

/** Where bundles live under the state directory, as in containerd. */
export const TASK_DIR = "io.containerd.runtime.v2.task";

/** The file in a bundle naming its runtime, for clean-up after a crash. */
const RUNTIME_FILE = "runtime";

/** The file in a bundle holding its shim's address (`unix://PATH`). */
const ADDRESS_FILE = "address";

/** The file in a bundle naming the group its shim was started for. */
const GROUP_FILE = "shim-group";

/** One task's bundle directory. */
export interface Bundle {
  /** The task's namespace. */
  namespace: string;
  /** The task's (= container's) id. */
  id: string;
  /** The directory. */
  path: string;
}

/** The bundle of task `id` of `namespace` under `state`. */
export function bundleOf(state: string, namespace: string, id: string): Bundle {
  return { namespace, id, path: join(state, TASK_DIR, namespace, id) };
}

/**
 * Makes the bundle: `rootfs/`, the spec and the runtime's name. The modes
 * are containerd's: the directories above 0711, the bundle itself 0700
 * (0710 and the group of the container's root when the spec maps user
 * ids, so that the remapped root reaches its rootfs), `rootfs/` 0711.
 */
export function writeBundle(
  bundle: Bundle,
  spec: Uint8Array,
  runtime: string,
): void {
  Deno.mkdirSync(dirname(bundle.path), { recursive: true, mode: 0o711 });
  Deno.mkdirSync(bundle.path, { recursive: true, mode: 0o700 });
  const gid = remappedRootGid(spec);
  if (gid === undefined) {
    Deno.chmodSync(bundle.path, 0o700);
  } else {
    Deno.chownSync(bundle.path, null, gid);
    Deno.chmodSync(bundle.path, 0o710);
  }
  Deno.mkdirSync(join(bundle.path, "rootfs"), { recursive: true, mode: 0o711 });
  Deno.writeFileSync(join(bundle.path, "config.json"), spec);
  Deno.writeTextFileSync(join(bundle.path, RUNTIME_FILE), runtime);
}

/**
 * The host gid the spec maps the container's gid 0 to, if it maps gids
 * (a user namespace); a spec that is not JSON maps none.
 */
function remappedRootGid(spec: Uint8Array): number | undefined {
  let mappings: unknown;
  try {
    mappings = JSON.parse(new TextDecoder().decode(spec))?.linux?.gidMappings;
  } catch {
    return undefined;
  }
  if (!Array.isArray(mappings)) return undefined;
  const root = mappings.find((m) => m?.containerID === 0);
  const gid = root?.hostID;
  return typeof gid === "number" && gid > 0 ? gid : undefined;
}

/** The runtime name the bundle records, or undefined. */
export async function readBundleRuntime(
  bundle: Bundle,
): Promise<string | undefined> {
  return await Deno.readTextFile(join(bundle.path, RUNTIME_FILE)).catch(
    () => undefined,
  );
}

/** Where the shim serving a bundle's task listens, and for which group. */
export interface ShimAddress {
  /** Its socket path. */
  socket: string;
  /** The group it serves, if other tasks may join it. */
  group?: string;
}

/** Records the shim serving the bundle's task. */
export function writeShimAddress(bundle: Bundle, address: ShimAddress): void {
  Deno.writeTextFileSync(
    join(bundle.path, ADDRESS_FILE),
    `unix://${address.socket}`,
  );
  if (address.group !== undefined) {
    Deno.writeTextFileSync(join(bundle.path, GROUP_FILE), address.group);
  }
}

/** The shim of the bundle's task, as recorded. */
export async function readShimAddress(bundle: Bundle): Promise<ShimAddress> {
  const socket = (await Deno.readTextFile(join(bundle.path, ADDRESS_FILE)))
    .trim().replace(/^unix:\/\//, "");
  const group = await Deno.readTextFile(join(bundle.path, GROUP_FILE)).catch(
    () => undefined,
  );
  return { socket, group };
}

/**
 * Where removed bundles wait for their files to go: beside the namespaces
 * under `TASK_DIR`, a name no namespace can have.
 */
const TRASH = ".deleted";

/**
 * Removes a bundle directory, unmounting what is still mounted in it first:
 * a recursive delete must never reach into the container's snapshot. The
 * bundle leaves its path at once (moved into the trash, one rename), so
 * that the task's id can be used again as soon as this resolves; its files
 * are deleted after that, which `removed` tells. A task's delete thus does
 * not wait for a dozen unlinks (10-40 ms on this machine's busy disk).
 */
export async function removeBundle(
  bundle: Bundle,
): Promise<{ removed: Promise<void> }> {
  // As containerd does: the rootfs is unmounted, then removed with rmdir,
  // which refuses while anything is still mounted on or in it. Only if
  // that fails are the bundle's mounts looked up (mountinfo, costly on a
  // host with many) and undone.
  const rootfs = join(bundle.path, "rootfs");
  await unmountAll(rootfs, { detach: true });
  try {
    Deno.removeSync(rootfs);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      await unmountRecursive(bundle.path, { detach: true });
    }
  }
  const trash = join(dirname(dirname(bundle.path)), TRASH);
  const moved = join(trash, crypto.randomUUID());
  try {
    Deno.mkdirSync(trash, { recursive: true, mode: 0o700 });
    Deno.renameSync(bundle.path, moved);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return { removed: Promise.resolve() };
  }
  return { removed: Deno.remove(moved, { recursive: true }) };
}

/**
 * Deletes what removed bundles left in the trash under `state` (a daemon
 * that stopped before their files were gone).
 */
export async function emptyBundleTrash(state: string): Promise<void> {
  await Deno.remove(join(state, TASK_DIR, TRASH), { recursive: true }).catch(
    (err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    },
  );
}

/** Every bundle under `state`, namespace by namespace. */
export async function* listBundles(state: string): AsyncGenerator<Bundle> {
  const root = join(state, TASK_DIR);
  for await (const namespace of readDirOrEmpty(root)) {
    if (namespace === TRASH) continue;
    for await (const id of readDirOrEmpty(join(root, namespace))) {
      yield { namespace, id, path: join(root, namespace, id) };
    }
  }
}

async function* readDirOrEmpty(dir: string): AsyncGenerator<string> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) yield entry.name;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
