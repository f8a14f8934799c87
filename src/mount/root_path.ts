/**
 * Joins a sub-path onto a root so that the result never leaves the root,
 * resolving symlinks as if the root were `/` (containerd's `fs.RootPath`).
 *
 * @module
 */
import { join } from "../types/path.ts";
import { invalidArgument } from "../types/mod.ts";

const MAX_LINKS = 255;

/**
 * `root` joined with `path`, where `..` and symlinks (absolute or relative)
 * are resolved inside `root`: the result is `root` or below it. Components
 * that do not exist are joined as they are.
 *
 * @throws {BerthError} `InvalidArgument` on too many levels of symlinks.
 */
export function resolveInRoot(root: string, path: string): string {
  const pending = path.split("/").filter((p) => p !== "" && p !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    let link: string | undefined;
    try {
      if (Deno.lstatSync(candidate).isSymlink) {
        link = Deno.readLinkSync(candidate);
      }
    } catch {
      // Missing: joined as it is.
    }
    if (link === undefined) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw invalidArgument(
        `path ${JSON.stringify(path)} in ${root}: too many symlinks`,
      );
    }
    if (link.startsWith("/")) resolved.length = 0;
    pending.unshift(...link.split("/").filter((p) => p !== "" && p !== "."));
  }
  return join(root, ...resolved);
}
