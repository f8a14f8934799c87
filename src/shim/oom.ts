/**
 * Noticing OOM kills in a container's memory cgroup, for `/tasks/oom`.
 *
 * The kernel counts them (`oom_kill` in `memory.oom_control` on cgroup v1,
 * in `memory.events` on v2); the shim reads the counter every interval and
 * once more when the init process exits, so a kill that ended the container
 * is reported before its exit. The counter is a small cgroupfs file, read
 * synchronously: the exit's path waits for no worker thread.
 *
 * @module
 */

/** Default polling interval in milliseconds. */
export const OOM_POLL_MS = 1_000;

/** Watches one cgroup's OOM kill counter. */
export class OomWatcher {
  readonly #file: string;
  readonly #onOom: () => void;
  #seen = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(file: string, onOom: () => void) {
    this.#file = file;
    this.#onOom = onOom;
  }

  /**
   * Starts watching the memory cgroup of process `pid`; undefined when it
   * has none the shim can read (it has exited, or no memory controller).
   */
  static start(
    pid: number,
    onOom: () => void,
    intervalMs: number = OOM_POLL_MS,
  ): OomWatcher | undefined {
    const file = counterFile(pid);
    if (!file) return undefined;
    const watcher = new OomWatcher(file, onOom);
    watcher.#seen = watcher.#read();
    const timer = setInterval(() => watcher.check(), intervalMs);
    Deno.unrefTimer(timer);
    watcher.#timer = timer;
    return watcher;
  }

  /** Reads the counter now; reports if it went up. */
  check(): void {
    const count = this.#read();
    if (count > this.#seen) {
      this.#seen = count;
      this.#onOom();
    }
  }

  /** Stops the polling. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** The counter (the last one seen while the file cannot be read). */
  #read(): number {
    let text;
    try {
      text = Deno.readTextFileSync(this.#file);
    } catch {
      return this.#seen;
    }
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
  }
}

/** The file holding `pid`'s memory cgroup's `oom_kill` counter. */
function counterFile(pid: number): string | undefined {
  let text;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return undefined;
  }
  const lines = text.split("\n").map((l) => l.split(":"));
  const v1 = lines.find(([, controllers]) =>
    controllers?.split(",").includes("memory")
  );
  const candidates = v1
    ? [`/sys/fs/cgroup/memory${v1[2]}/memory.oom_control`]
    : lines.filter(([id]) => id === "0").map(([, , path]) =>
      `/sys/fs/cgroup${path}/memory.events`
    );
  for (const file of candidates) {
    try {
      Deno.statSync(file);
      return file;
    } catch {
      // not there
    }
  }
  return undefined;
}
