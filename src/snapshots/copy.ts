/**
 * Copies a directory tree exactly, for the native snapshotter: owners,
 * modes, times, extended attributes, hard and symbolic links, devices,
 * FIFOs and sockets, sharing blocks (reflinks) where the file system can.
 * GNU `cp -a --reflink=auto` does the work; extended attributes it cannot
 * set (such as `security.*` ones) are skipped, as containerd does.
 *
 * @module
 */

/** Options of {@linkcode copyDir}. */
export interface CopyDirOptions {
  /** The tree to copy. */
  source: string;
  /** An existing directory that receives the tree's contents and attributes. */
  target: string;
  /** The `cp` program; `cp` from PATH unless given. */
  cp?: string;
}

/** Copies the contents of `source` into `target`. */
export async function copyDir(options: CopyDirOptions): Promise<void> {
  const { source, target } = options;
  const output = await new Deno.Command(options.cp ?? "cp", {
    args: ["-a", "--reflink=auto", "--", `${source}/.`, target],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(
      `copy ${source} to ${target} failed: ${stderr || `exit ${output.code}`}`,
    );
  }
}
