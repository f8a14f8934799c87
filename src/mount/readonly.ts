/**
 * Read-only variants of mounts, for looking at a snapshot without changing
 * it.
 *
 * @module
 */
import type { Mount } from "../types/mod.ts";
import { splitLowerdir } from "./overlay.ts";

function escapeLayer(dir: string): string {
  return dir.replace(/[\\:]/g, (c) => `\\${c}`);
}

/**
 * Overlay options made read-only: `upperdir` becomes the top lower layer and
 * `workdir` goes; `ro` is added. Returns the single layer's path instead when
 * only one layer is left (overlayfs needs two without an upper).
 */
function readonlyOverlay(options: readonly string[]): string[] | string {
  let upper: string | undefined;
  const rest: string[] = [];
  for (const option of options) {
    if (option.startsWith("upperdir=")) upper = option.slice(9);
    else if (
      !option.startsWith("workdir=") && option !== "rw" && option !== "ro"
    ) {
      rest.push(option);
    }
  }
  const index = rest.findIndex((o) => o.startsWith("lowerdir="));
  if (index < 0) return [...rest, "ro"];
  let lowerdir = rest[index].slice(9);
  if (upper !== undefined) lowerdir = `${escapeLayer(upper)}:${lowerdir}`;
  const layers = splitLowerdir(lowerdir);
  if (layers.lower.length === 1 && layers.data.length === 0) {
    return layers.lower[0];
  }
  rest[index] = `lowerdir=${lowerdir}`;
  return [...rest, "ro"];
}

/**
 * Read-only copies of `mounts` (the input is not changed), as containerd's
 * `WithReadonlyTempMount` makes them: `rw`/`ro` options are replaced by one
 * `ro`; an overlay loses its upper and work dirs, the upper becoming the top
 * lower layer, and an overlay left with one layer becomes a read-only
 * (non-recursive) bind mount of it.
 */
export function readonlyMounts(mounts: readonly Mount[]): Mount[] {
  return mounts.map((m) => {
    if (m.type === "overlay") {
      const options = readonlyOverlay(m.options);
      if (typeof options === "string") {
        return {
          ...m,
          type: "bind",
          source: options,
          options: ["bind", "ro"],
        };
      }
      return { ...m, options };
    }
    const options = m.options.filter((o) => o !== "rw" && o !== "ro");
    return { ...m, options: [...options, "ro"] };
  });
}
