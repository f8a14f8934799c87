/**
 * Which processes are inside a network namespace: those whose
 * `/proc/PID/ns/net` is the same nsfs inode as the namespace's file.
 *
 * @module
 */
import * as fs from "node:fs";

/** Pids of the processes whose network namespace is the one at `path`. */
export function processesIn(path: string): number[] {
  const target = fs.statSync(path);
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ns = fs.statSync(`/proc/${entry}/ns/net`);
      if (ns.ino === target.ino && ns.dev === target.dev) pids.push(+entry);
    } catch {
      // The process ended while we looked, or is not ours to see.
    }
  }
  return pids;
}
