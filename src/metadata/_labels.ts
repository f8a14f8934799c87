/**
 * Label updates with containerd's field paths, shared by every record that
 * carries labels.
 *
 * @module
 */
import { invalidArgument } from "../types/mod.ts";

/**
 * The labels after an update. No paths replaces them all; `labels` does
 * too; `labels.KEY` sets one key (an empty value removes it). Any other
 * path is InvalidArgument, `cannot update "PATH" field` followed by
 * `on` + `subject` when given.
 */
export function updateLabels(
  current: Readonly<Record<string, string>>,
  update: Readonly<Record<string, string>>,
  paths: readonly string[],
  subject?: string,
): Record<string, string> {
  if (paths.length === 0) return { ...update };
  let labels = { ...current };
  for (const path of paths) {
    if (path === "labels") {
      labels = { ...update };
    } else if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      const value = update[key];
      if (value) labels[key] = value;
      else delete labels[key];
    } else {
      throw invalidArgument(
        `cannot update ${JSON.stringify(path)} field${
          subject ? ` on ${subject}` : ""
        }`,
      );
    }
  }
  return labels;
}
