/**
 * Exits reaped with nobody waiting, kept for the launches in progress: a
 * launch learns its process's pid only from the file runc writes, and the
 * process may have exited, and been reaped, before the shim has read it.
 *
 * A pid names one process at a time only, and is free for the next fork
 * once that process is reaped; with pid_max at 32768 a busy host reuses
 * pids quickly. So a kept exit is handed only to a launch that began
 * before it was reaped (a process started later cannot be the one that
 * exited), and is dropped once no launch in progress began before it. An
 * orphan's exit reaped while nothing launches is never kept.
 *
 * Bound: one exit per pid (a later exit of a pid replaces the earlier one,
 * which belonged to an earlier process), so at most pid_max; none while
 * nothing launches. There is no lower cap: evicting an exit could drop the
 * very one a launch is about to ask for.
 *
 * @module
 */
/** A kept exit and when it was reaped, on the launches' clock. */
interface KeptExit<Exit> {
  exit: Exit;
  reaped: number;
}

/** The exits kept for launches in progress. */
export class KeptExits<Exit> {
  /** Orders launch beginnings and reaps: one tick per event. */
  #clock = 0;
  /** Kept exits by pid, in the order they were reaped. */
  #exits = new Map<number, KeptExit<Exit>>();
  /** When each launch in progress began. */
  #launches = new Set<number>();

  /** How many exits are held. */
  get size(): number {
    return this.#exits.size;
  }

  /** Marks a launch beginning; returns its mark, for `claim` and `end`. */
  begin(): number {
    const began = ++this.#clock;
    this.#launches.add(began);
    return began;
  }

  /**
   * Ends the launch marked `began`: exits reaped before every launch still
   * in progress began (all, when none is) can be nobody's, and are dropped.
   */
  end(began: number): void {
    this.#launches.delete(began);
    const oldest = Math.min(...this.#launches);
    for (const [pid, kept] of this.#exits) {
      if (kept.reaped > oldest) return;
      this.#exits.delete(pid);
    }
  }

  /** Keeps the exit of `pid` while any launch is in progress. */
  keep(pid: number, exit: Exit): void {
    if (this.#launches.size === 0) return;
    this.#exits.delete(pid);
    this.#exits.set(pid, { exit, reaped: ++this.#clock });
  }

  /**
   * Takes the exit of `pid` if it was reaped after the launch marked
   * `began` began; an earlier one was another process's.
   */
  claim(pid: number, began: number): Exit | undefined {
    const kept = this.#exits.get(pid);
    if (!kept || kept.reaped < began) return undefined;
    this.#exits.delete(pid);
    return kept.exit;
  }
}
