/**
 * `execve(2)`: replace this process's program, keeping its pid, fds and
 * parent. Deno has no such call; the daemon uses it to restart itself with
 * V8 flags that must be set before V8 starts.
 *
 * @module
 */
import {
  cString,
  cStringArray,
  errno,
  libcSymbols,
  SyscallError,
} from "./libc.ts";

const symbols = libcSymbols(
  {
    execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  } as const,
);

/**
 * Runs `path` with `argv` (argv[0] included) and `env` in place of this
 * program. Returns only on failure, by throwing {@linkcode SyscallError}.
 */
export function execve(
  path: string,
  argv: string[],
  env: Record<string, string>,
): never {
  const args = cStringArray(argv);
  const vars = cStringArray(
    Object.entries(env).map(([key, value]) => `${key}=${value}`),
  );
  symbols().execve(cString(path), args.array, vars.array);
  throw new SyscallError(`execve ${path}`, errno());
}

/** This process's own argv as the kernel holds it (argv[0] included). */
export function ownArgv(): string[] {
  const text = Deno.readTextFileSync("/proc/self/cmdline");
  return text.split("\0").slice(0, -1);
}
