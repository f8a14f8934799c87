/**
 * Noticing OOM kills in a container's memory cgroup, for `/tasks/oom`.
 *
 * The kernel counts them (`oom_kill` in `memory.oom_control` on cgroup v1,
 * in `memory.events` on v2) and tells of them, as containerd's shim hears
 * it: on v2 as a change of `memory.events` (inotify), after the count went
 * up; on v1 through an eventfd registered for `memory.oom_control`, when an
 * OOM begins, before its kill is counted. Both are waited for on the
 * shim's poll loop, no timer. The count is read once more when the init
 * process exits, so a kill that ended the container is reported before its
 * exit, once. It is a small cgroupfs file, read synchronously: the exit's
 * path waits for no worker thread.
 *
 * @module
 */
import { watchCgroupEvents } from "../sys/cgroup_event.ts";
import { watchChanges } from "../sys/open_watch.ts";
import { join } from "../types/path.ts";
import { cgroupDirOf } from "./cgroup.ts";

/** Watches one cgroup's OOM kill counter. */
export class OomWatcher {
  readonly #file: string;
  readonly #onOom: () => void;
  #seen = 0;
  #unwatch = () => {};

  private constructor(file: string, onOom: () => void) {
    this.#file = file;
    this.#onOom = onOom;
  }

  /**
   * Starts watching the memory cgroup of process `pid`; undefined when it
   * has none the shim can read (it has exited, or no memory controller).
   */
  static start(pid: number, onOom: () => void): OomWatcher | undefined {
    const file = counterFile(pid);
    if (!file) return undefined;
    const watcher = new OomWatcher(file, onOom);
    // Read before the watch: a kill in between is told at the next look.
    watcher.#seen = watcher.#read() ?? 0;
    try {
      watcher.#unwatch = file.endsWith("memory.oom_control")
        ? watchCgroupEvents(file, () => watcher.#began())
        : watchChanges(file, () => watcher.check());
    } catch {
      return undefined; // the cgroup is gone: the process has exited
    }
    return watcher;
  }

  /** Reads the counter now; reports if it went up. */
  check(): void {
    const count = this.#read() ?? this.#seen;
    if (count > this.#seen) {
      this.#seen = count;
      this.#onOom();
    }
  }

  /**
   * An OOM began (cgroup v1): reported now, its kill counted as told
   * whether or not the count shows it yet. The event of the cgroup's
   * removal finds no file.
   */
  #began(): void {
    const count = this.#read();
    if (count === undefined) return;
    this.#seen = Math.max(this.#seen + 1, count);
    this.#onOom();
  }

  /** Stops watching. */
  stop(): void {
    this.#unwatch();
  }

  /** The counter, undefined while the file cannot be read. */
  #read(): number | undefined {
    let text;
    try {
      text = Deno.readTextFileSync(this.#file);
    } catch {
      return undefined;
    }
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  }
}

/** The file holding `pid`'s memory cgroup's `oom_kill` counter. */
function counterFile(pid: number): string | undefined {
  const dir = cgroupDirOf(pid, "memory");
  if (!dir) return undefined;
  for (const name of ["memory.oom_control", "memory.events"]) {
    try {
      Deno.statSync(join(dir, name));
      return join(dir, name);
    } catch {
      // not there
    }
  }
  return undefined;
}
