/**
 * Starting a program with chosen files as its stdin, stdout and stderr,
 * which `Deno.Command` cannot do, through glibc's `posix_spawn` (a
 * `vfork`-like clone, safe in a threaded process): the child opens the
 * files as fds 0, 1 and 2 and executes the program, with no shell in
 * between. The caller reaps the child (see `waitid` in `proc.ts`); Deno
 * knows nothing of it.
 *
 * The calling thread waits while the child runs until its `execve`, so the
 * child does as little as it can there: the program's PATH lookup is done
 * once and remembered (a child searching PATH itself tries every earlier
 * directory's `execve` first), and it gets this process's own environment
 * as it stands (`environ`), not a copy rebuilt for each start. (Calling
 * `posix_spawn` on a worker thread instead was measured: the calling
 * thread saved ~0.1 ms, but the pid came ~0.8 ms later.)
 *
 * @module
 */
import { cString, cStringArray, libcSymbols, SyscallError } from "./libc.ts";

const symbols = libcSymbols(
  {
    posix_spawn: {
      parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "pointer"],
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
    dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
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
const ENOENT = 2;
/** glibc's search path when PATH is unset (`confstr(_CS_PATH)`). */
const DEFAULT_PATH = "/bin:/usr/bin";

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
 * The attributes every child gets, made once (`posix_spawn` only reads
 * them): no signal blocked and SIGPIPE at its default, as `Deno.Command`'s
 * children start. Neither flag takes glibc off its `CLONE_VFORK` path.
 */
let attributes: Uint8Array<ArrayBuffer> | undefined;
function spawnAttributes(): Uint8Array<ArrayBuffer> {
  if (attributes) return attributes;
  const libc = symbols();
  const attr = new Uint8Array(ATTR_SIZE);
  check("posix_spawnattr_init", libc.posix_spawnattr_init(attr));
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
  return attributes = attr;
}

/** Where libc keeps `environ`, found once. */
let environAddress: Deno.PointerValue | undefined;
/** This process's environment block as it stands now. */
function currentEnviron(): Deno.PointerValue {
  environAddress ??= symbols().dlsym(null, cString("environ"));
  if (!environAddress) throw new SyscallError("dlsym(environ)", ENOENT);
  // setenv may move the block: read the variable at every start.
  return new Deno.UnsafePointerView(environAddress).getPointer();
}

/** Programs found on PATH, by PATH and name. */
const resolved = new Map<string, string>();

/**
 * The file `program` names: itself when it holds a slash, else the first
 * executable file of that name in PATH's directories (an empty entry is
 * the working directory), remembered for this PATH.
 */
export function programPath(program: string): string | undefined {
  if (program.includes("/")) return program;
  const path = Deno.env.get("PATH") ?? DEFAULT_PATH;
  const key = `${path}\0${program}`;
  const known = resolved.get(key);
  if (known) return known;
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${program}`;
    try {
      const info = Deno.statSync(candidate);
      if (!info.isFile || !((info.mode ?? 0) & 0o111)) continue;
    } catch {
      continue;
    }
    resolved.set(key, candidate);
    return candidate;
  }
  return undefined;
}

/** Forgets where `program` was found (it is gone from there). */
function forgetProgram(program: string): boolean {
  const path = Deno.env.get("PATH") ?? DEFAULT_PATH;
  return resolved.delete(`${path}\0${program}`);
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
  check(
    "posix_spawn_file_actions_init",
    libc.posix_spawn_file_actions_init(actions),
  );
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
    const args = cStringArray(argv);
    const env = options.env && cStringArray(
      Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
    );
    const pid = new Int32Array(1);
    const spawn = (file: string) =>
      libc.posix_spawn(
        pid,
        cString(file),
        actions,
        spawnAttributes(),
        args.array,
        env ? Deno.UnsafePointer.of(env.array) : currentEnviron(),
      );
    let file = programPath(program);
    let result = file === undefined ? ENOENT : spawn(file);
    // Moved since it was found: look again, once.
    if (result === ENOENT && file !== program && forgetProgram(program)) {
      file = programPath(program);
      if (file !== undefined) result = spawn(file);
    }
    check(`posix_spawn ${program}`, result);
    return pid[0];
  } finally {
    libc.posix_spawn_file_actions_destroy(actions);
  }
}
