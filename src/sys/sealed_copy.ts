/**
 * Sealed in-memory copies of a program (memfds), made for runc.
 *
 * Every `runc create` and `runc exec` starts `runc init` inside the
 * container's namespaces. runc will not let that process run from the
 * host's runc file, which a container could write through
 * (CVE-2019-5736): runc 1.1 re-executes it from a read-only bind mount or
 * a copy it makes each time (a private mount namespace, a mount, and a
 * second `execve` of its ~9 MB binary: ~5 ms per container start and per
 * exec here). A runc already running from a memfd that is fully sealed
 * (no write, grow, shrink, nor further seals) cannot be written by anyone,
 * so runc runs it as it is. The daemon therefore makes one sealed copy of
 * runc and the shims it launches run runc from that copy, each holding it
 * open: one copy's pages for the host, whoever ends first.
 *
 * @module
 */
import { cString, errno, libcSymbols, SyscallError } from "./libc.ts";
import { closeFd, openFd } from "./fdio.ts";

const SYMBOLS = {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  sendfile: {
    parameters: ["i32", "i32", "pointer", "usize"],
    result: "isize",
  },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = libcSymbols(SYMBOLS);

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: runc's test. */
const ALL_SEALS = 0b1111;
const O_RDONLY = 0;

/** A sealed copy of a program, as another process can find and check it. */
export interface SealedCopy {
  /** The program file copied. */
  source: string;
  /** What the source was when copied (see {@linkcode fileIdentity}). */
  identity: string;
  /** The copy as a path that any process of this host can open. */
  path: string;
}

/**
 * The identity of file `path` (device, inode, size, change time): a
 * replaced or rewritten program has another; undefined when it is gone.
 */
export function fileIdentity(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return `${info.dev}:${info.ino}:${info.size}:${info.ctime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/** A sealed copy this process made and holds open. */
export interface OwnSealedCopy {
  /** The copy, as other processes find it. */
  copy: SealedCopy;
  /** Lets the copy go (processes holding it keep it). */
  close(): void;
}

/**
 * Copies program file `source` into a new memfd and seals it; the memfd
 * stays open in this process (close-on-exec) as `/proc/PID/fd/N` until
 * closed.
 *
 * @throws {SyscallError} when the file cannot be read or the copy made.
 * @throws {Error} when the file changed while it was copied.
 */
export function makeSealedCopy(source: string): OwnSealedCopy {
  const identity = fileIdentity(source);
  const input = openFd(source, O_RDONLY);
  const name = source.slice(source.lastIndexOf("/") + 1);
  const fd = libc().memfd_create(
    cString(name),
    MFD_CLOEXEC | MFD_ALLOW_SEALING,
  );
  try {
    if (fd < 0) throw new SyscallError("memfd_create", errno());
    for (;;) {
      const sent = libc().sendfile(fd, input, null, 1n << 30n);
      if (sent < 0) throw new SyscallError(`sendfile ${source}`, errno());
      if (sent === 0n) break;
    }
    if (libc().fcntl(fd, F_ADD_SEALS, ALL_SEALS) !== 0) {
      throw new SyscallError("fcntl(F_ADD_SEALS)", errno());
    }
  } catch (err) {
    if (fd >= 0) closeFd(fd);
    throw err;
  } finally {
    closeFd(input);
  }
  // Changed while copied: the copy may be torn; no copy rather than that.
  if (identity === undefined || fileIdentity(source) !== identity) {
    closeFd(fd);
    throw new Error(`${source} changed while it was copied`);
  }
  return {
    copy: { source, identity, path: `/proc/${Deno.pid}/fd/${fd}` },
    close: () => closeFd(fd),
  };
}

/**
 * Opens `copy` (made by another process) in this one, checking that it is
 * fully sealed; returns it with its path in this process, or undefined
 * when it cannot be opened or is not sealed.
 */
export function holdSealedCopy(copy: SealedCopy): SealedCopy | undefined {
  let fd;
  try {
    fd = openFd(copy.path, O_RDONLY);
  } catch {
    return undefined;
  }
  if (libc().fcntl(fd, F_GET_SEALS, 0) !== ALL_SEALS) {
    closeFd(fd);
    return undefined;
  }
  return { ...copy, path: `/proc/${Deno.pid}/fd/${fd}` };
}
