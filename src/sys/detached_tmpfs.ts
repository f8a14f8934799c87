/**
 * A private tmpfs mounted nowhere: made with `fsopen`/`fsmount` and never
 * attached (no `move_mount`), so no mount table shows it and nothing is
 * left to unmount. It is reached only through this process's descriptor of
 * it, as the path `/proc/PID/fd/N`, which other processes of the host (runc)
 * can follow too, and it is gone once the descriptor is closed, or with the
 * process, however it ends.
 *
 * The shim has runc write its pid files there: runc writes them `O_SYNC`,
 * which on a disk-backed state directory waits for the disk on every
 * container start and exec.
 *
 * @module
 */
import {
  closeFd,
  FSCONFIG,
  fsconfig,
  fsmount,
  fsopen,
  MOUNT_ATTR,
} from "./mount.ts";

/** Options for {@linkcode detachedTmpfs}. */
export interface DetachedTmpfsOptions {
  /** Its size limit, as tmpfs's `size` option takes it (default `1m`). */
  size?: string;
}

/** A detached tmpfs this process holds. */
export interface DetachedTmpfs {
  /** Its root directory, as any process of the host can open it. */
  readonly path: string;
  /** Lets it go: its files are gone once nobody has one open. */
  close(): void;
}

/**
 * Makes a detached tmpfs (mode 0700, nodev, nosuid, noexec), held open
 * (close-on-exec) until closed.
 *
 * @throws {SyscallError} when the kernel will not make one (no
 * `CAP_SYS_ADMIN`, or a kernel before 5.2).
 */
export function detachedTmpfs(
  options: DetachedTmpfsOptions = {},
): DetachedTmpfs {
  const context = fsopen("tmpfs");
  let mount: number;
  try {
    fsconfig(context, FSCONFIG.SET_STRING, "size", options.size ?? "1m");
    fsconfig(context, FSCONFIG.SET_STRING, "mode", "0700");
    fsconfig(context, FSCONFIG.CMD_CREATE, null);
    mount = fsmount(
      context,
      undefined,
      MOUNT_ATTR.NODEV | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOEXEC,
    );
  } finally {
    closeFd(context);
  }
  let open = true;
  return {
    path: `/proc/${Deno.pid}/fd/${mount}`,
    close() {
      if (open) closeFd(mount);
      open = false;
    },
  };
}
