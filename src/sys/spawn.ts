/**
 * Starting a program with chosen files as its stdin, stdout and stderr,
 * which `Deno.Command` cannot do, through glibc's `posix_spawnp` (a
 * `vfork`-like clone, safe in a threaded process): the child opens the
 * files as fds 0, 1 and 2 and executes the program, with no shell in
 * between. The caller reaps the child (see `waitid` in `proc.ts`); Deno
 * knows nothing of it.
 *
 * @module
 */
import { cString, cStringArray, libcSymbols, SyscallError } from "./libc.ts";

const symbols = libcSymbols(
  {
    posix_spawnp: {
      parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      result: "i32",
    },
    posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
    posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
    posix_spawn_file_actions_addopen: {
      parameters: ["buffer", "i32", "buffer", "i32", "u32"],
      result: "i32",
    },
    posix_spawn_file_actions_addchdir_np: {
      parameters: ["buffer", "buffer"],
      result: "i32",
    },
    posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
    posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
    posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
    posix_spawnattr_setsigmask: {
      parameters: ["buffer", "buffer"],
      result: "i32",
    },
    posix_spawnattr_setsigdefault: {
      parameters: ["buffer", "buffer"],
      result: "i32",
    },
    sigemptyset: { parameters: ["buffer"], result: "i32" },
    sigaddset: { parameters: ["buffer", "i32"], result: "i32" },
  } as const,
);

/**
 * Room for glibc's `posix_spawn_file_actions_t`, `posix_spawnattr_t` and
 * `sigset_t` (80, 336 and 128 bytes on x86-64), with some to spare.
 */
const FILE_ACTIONS_SIZE = 128;
const ATTR_SIZE = 384;
const SIGSET_SIZE = 128;

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const SIGPIPE = 13;
const O_RDONLY = 0o0;
const O_WRONLY = 0o1;

/** Options for {@linkcode spawnWithStdio}. */
export interface SpawnOptions {
  /** Paths the child opens as fds 0 (to read), 1 and 2 (to write). */
  stdio: readonly [stdin: string, stdout: string, stderr: string];
  /** Its working directory (default: this process's). */
  cwd?: string;
  /** Its environment (default: this process's). */
  env?: Record<string, string>;
}

/** Throws for a nonzero result of a `posix_spawn*` call (it is the errno). */
function check(call: string, result: number): void {
  if (result !== 0) throw new SyscallError(call, result);
}

/**
 * Starts `program` (looked up in PATH unless it holds a slash) with
 * `argv` (argv[0] included); returns its pid. The child starts with no
 * signal blocked and SIGPIPE at its default, as `Deno.Command`'s do.
 *
 * @throws {SyscallError} when it cannot be started (ENOENT: no such
 *   program; an unopenable stdio file or working directory fails the same
 *   way, with that call's errno).
 */
export function spawnWithStdio(
  program: string,
  argv: string[],
  options: SpawnOptions,
): number {
  const libc = symbols();
  const actions = new Uint8Array(FILE_ACTIONS_SIZE);
  const attr = new Uint8Array(ATTR_SIZE);
  check(
    "posix_spawn_file_actions_init",
    libc.posix_spawn_file_actions_init(actions),
  );
  try {
    check("posix_spawnattr_init", libc.posix_spawnattr_init(attr));
    try {
      const paths = options.stdio.map(cString);
      for (const [fd, path] of paths.entries()) {
        check(
          "posix_spawn_file_actions_addopen",
          libc.posix_spawn_file_actions_addopen(
            actions,
            fd,
            path,
            fd === 0 ? O_RDONLY : O_WRONLY,
            0,
          ),
        );
      }
      const cwd = options.cwd === undefined ? undefined : cString(options.cwd);
      if (cwd) {
        check(
          "posix_spawn_file_actions_addchdir_np",
          libc.posix_spawn_file_actions_addchdir_np(actions, cwd),
        );
      }
      const none = new Uint8Array(SIGSET_SIZE);
      libc.sigemptyset(none);
      const pipe = new Uint8Array(SIGSET_SIZE);
      libc.sigemptyset(pipe);
      libc.sigaddset(pipe, SIGPIPE);
      check(
        "posix_spawnattr_setsigmask",
        libc.posix_spawnattr_setsigmask(attr, none),
      );
      check(
        "posix_spawnattr_setsigdefault",
        libc.posix_spawnattr_setsigdefault(attr, pipe),
      );
      check(
        "posix_spawnattr_setflags",
        libc.posix_spawnattr_setflags(
          attr,
          POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF,
        ),
      );
      const args = cStringArray(argv);
      const env = cStringArray(
        Object.entries(options.env ?? Deno.env.toObject()).map(([k, v]) =>
          `${k}=${v}`
        ),
      );
      const pid = new Int32Array(1);
      check(
        `posix_spawn ${program}`,
        libc.posix_spawnp(
          pid,
          cString(program),
          actions,
          attr,
          args.array,
          env.array,
        ),
      );
      return pid[0];
    } finally {
      libc.posix_spawnattr_destroy(attr);
    }
  } finally {
    libc.posix_spawn_file_actions_destroy(actions);
  }
}
