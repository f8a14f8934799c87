/**
 * A mount as containerd describes one: what the snapshotters hand out and
 * the mount component performs.
 *
 * @module
 */

/** One mount: `mount -t TYPE -o OPTIONS SOURCE TARGET`. */
export interface Mount {
  /** Filesystem type: `overlay`, `bind`, `tmpfs` … */
  type: string;
  /** Source: a path, or a name such as `overlay`. */
  source: string;
  /** Sub-path of the mount point to mount at; usually empty. */
  target?: string;
  /** Options: flags (`ro`, `rbind`, `nosuid` …) and data (`lowerdir=…`). */
  options: string[];
}
