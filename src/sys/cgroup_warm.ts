/**
 * Readying the kernel's cgroup attach lock ahead of runc.
 *
 * Moving a process into a cgroup (runc does it for every container start
 * and every exec, once per hierarchy) takes one host-wide percpu
 * rw-semaphore for writing. When nobody has taken it for a while, the
 * first taker waits a whole RCU grace period (5–13 ms on the bench host)
 * for the readers' fast path to drain; takers in the next grace period or
 * so wait for nothing. A `runc exec` spaced from the last one spent most of
 * its time asleep in that wait (measured: 11.7 of 23.5 ms with no runc
 * process on a CPU).
 *
 * A thread's move into the cgroup it is already in takes that lock and
 * changes nothing: no controller is even told of it (a pid that does not
 * exist, or a kernel thread's, would not do: the kernel refuses those
 * before it takes the lock). So, on a blocking thread as runc starts, this
 * process's main thread is written to its own cgroup v2 cgroup's
 * `cgroup.threads`: that waits out the grace period while runc is still
 * starting up, and runc's own moves find the lock ready. Should the
 * process have moved to another cgroup meanwhile (the shim joining its
 * configured cgroup), the kernel refuses to move one thread of it out of
 * its domain: nothing is ever moved back. Hosts without the unified
 * hierarchy get no warm-up.
 *
 * @module
 */
import { libcSymbols } from "./libc.ts";
import { closeFd, openFd } from "./fdio.ts";

const libc = libcSymbols(
  {
    write: {
      parameters: ["i32", "buffer", "usize"],
      result: "isize",
      nonblocking: true,
    },
  } as const,
);

const O_WRONLY = 0o1;
/** The main thread's id, which is the process's (kept: a blocking call reads it). */
const MAIN_THREAD = new TextEncoder().encode(String(Deno.pid));

/** Where the unified (v2) hierarchy is mounted, found once; null: nowhere. */
let unifiedMount: string | null | undefined;
let inFlight: Promise<void> | undefined;

/**
 * Moves this process's main thread into its own cgroup v2 cgroup on a
 * blocking thread, which readies the cgroup attach lock; resolves when
 * done (at once when a warm-up is already under way, or when there is
 * nothing to write). Never rejects: a lock not readied only leaves the
 * wait to runc.
 */
export function warmCgroupAttach(): Promise<void> {
  if (inFlight) return inFlight;
  const threads = ownThreadsFile();
  if (!threads) return Promise.resolve();
  let fd: number;
  try {
    fd = openFd(threads, O_WRONLY);
  } catch {
    return Promise.resolve();
  }
  inFlight = libc().write(fd, MAIN_THREAD, BigInt(MAIN_THREAD.length)).then(
    () => {},
    () => {},
  )
    .finally(() => {
      closeFd(fd);
      inFlight = undefined;
    });
  return inFlight;
}

/** The `cgroup.threads` of this process's cgroup v2 cgroup, as it is now. */
function ownThreadsFile(): string | undefined {
  unifiedMount ??= findUnifiedMount();
  if (!unifiedMount) return undefined;
  const line = Deno.readTextFileSync("/proc/self/cgroup").split("\n")
    .find((l) => l.startsWith("0::"));
  if (!line) return undefined;
  const path = line.slice(3).replace(/\/$/, "");
  return `${unifiedMount}${path}/cgroup.threads`;
}

function findUnifiedMount(): string | null {
  for (
    const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
  ) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS] - TYPE SOURCE SUPER
    const [fields, fs] = line.split(" - ");
    if (fs?.startsWith("cgroup2 ")) return fields.split(" ")[4];
  }
  return null;
}
