/**
 * What the kernel's overlayfs supports, deciding the options the overlay
 * snapshotter puts on its mounts as containerd's does: `index=off` when the
 * overlay module has an `index` parameter, and `userxattr` only inside a
 * user namespace (rootless), on kernels that have it (5.11 and later), when
 * the root is not on tmpfs.
 *
 * @module
 */

/** True when the overlay module knows the `index` option. */
export function supportsIndex(): boolean {
  try {
    Deno.statSync("/sys/module/overlay/parameters/index");
    return true;
  } catch {
    return false;
  }
}

/**
 * True inside a user namespace: the uid map is anything but the initial
 * namespace's identity map of all 2^32 - 1 ids.
 */
export function runningInUserNS(
  uidMap = readOrEmpty("/proc/self/uid_map"),
): boolean {
  const lines = uidMap.trim().split("\n").filter((line) => line.trim());
  if (lines.length === 0) return false;
  if (lines.length > 1) return true;
  const [inside, outside, length] = lines[0].trim().split(/\s+/).map(Number);
  return !(inside === 0 && outside === 0 && length === 4294967295);
}

/** The file system type of the mount holding `path`, from mountinfo. */
export function fsTypeOf(
  path: string,
  mountinfo = readOrEmpty("/proc/self/mountinfo"),
): string | undefined {
  let best: { point: string; type: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const point = unescapeMountinfo(left.split(" ")[4] ?? "");
    const type = right.split(" ")[0];
    const inside = point === "/" || path === point ||
      path.startsWith(point + "/");
    if (inside && (!best || point.length >= best.point.length)) {
      best = { point, type };
    }
  }
  return best?.type;
}

/** True when `release` (`6.1.0-13-amd64`) is at least `major.minor`. */
export function kernelAtLeast(
  major: number,
  minor: number,
  release = Deno.osRelease(),
): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return false;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

/**
 * Whether overlay mounts of a snapshotter rooted at `root` need the
 * `userxattr` option. containerd also probes older kernels with a trial
 * mount; berth assumes they lack the option.
 */
export function needsUserXAttr(root: string): boolean {
  if (!runningInUserNS()) return false;
  let path = root;
  try {
    path = Deno.realPathSync(root);
  } catch {
    // Measure the path as given.
  }
  if (fsTypeOf(path) === "tmpfs") return false;
  return kernelAtLeast(5, 11);
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function unescapeMountinfo(text: string): string {
  return text.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}
