/**
 * cgroup v1 notifications (`cgroup.event_control`): an `eventfd(2)` the
 * kernel signals on a control file's event, such as an OOM in a memory
 * cgroup (`memory.oom_control`), waited for on the process's poll loop
 * (`poll.ts`). The kernel also signals it when the cgroup is removed.
 *
 * @module
 */
import { errno, libcSymbols, SyscallError } from "./libc.ts";
import { closeFd, openFd } from "./fdio.ts";
import { poller, POLLIN } from "./poll.ts";

const SYMBOLS = {
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = libcSymbols(SYMBOLS);

const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/**
 * Calls `onEvent` after each event of cgroup v1 control file `file` (a few
 * may be told as one) until the returned function is called.
 *
 * @throws {SyscallError} when the file cannot be watched (e.g. gone).
 */
export function watchCgroupEvents(
  file: string,
  onEvent: () => void,
): () => void {
  const control = openFd(file, 0); // O_RDONLY
  const event = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event < 0) {
    const e = errno();
    closeFd(control);
    throw new SyscallError("eventfd", e);
  }
  const registry = file.slice(0, file.lastIndexOf("/")) +
    "/cgroup.event_control";
  try {
    Deno.writeTextFileSync(registry, `${event} ${control}`);
  } catch (err) {
    closeFd(event);
    closeFd(control);
    throw err;
  }
  let watching = true;
  (async () => {
    const count = new Uint8Array(8);
    while (watching && await poller.wait(event, POLLIN) !== 0) {
      libc().read(event, count, 8n);
      if (watching) onEvent();
    }
  })();
  return () => {
    if (!watching) return;
    watching = false;
    closeFd(event);
    closeFd(control);
  };
}
