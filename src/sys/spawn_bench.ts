/**
 * What starting a child costs the calling thread (`deno bench -A
 * src/sys/spawn_bench.ts`): the shim starts runc this way for every create
 * and exec, and its main thread waits until the child's `execve` (glibc's
 * `posix_spawn` is a `CLONE_VFORK` clone). `Deno.Command` beside it for
 * scale. Each child is reaped, blocking, outside the timed part.
 */
import { libcSymbols } from "./libc.ts";
import { spawnWithStdio } from "./spawn.ts";

const waitid = libcSymbols(
  {
    waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  } as const,
);
const P_PID = 1;
const WEXITED = 4;
const info = new Uint8Array(128);

/** Waits for child `pid` to exit and reaps it. */
function reap(pid: number): void {
  waitid().waitid(P_PID, pid, info, WEXITED);
}

/** A runc command line as the shim's, which only prints the version. */
const RUNC_ARGS = [
  "--root",
  "/run/berth/runc/default",
  "--log",
  "/run/berth/io.containerd.runtime.v2.task/default/bench/log.json",
  "--log-format",
  "json",
  "--version",
];
const NULL_STDIO = ["/dev/null", "/dev/null", "/dev/null"] as const;

Deno.bench("spawnWithStdio runc", {
  group: "start runc --version",
  baseline: true,
}, (b) => {
  b.start();
  const pid = spawnWithStdio("runc", ["runc", ...RUNC_ARGS], {
    stdio: NULL_STDIO,
  });
  b.end();
  reap(pid);
});

Deno.bench(
  "Deno.Command runc",
  { group: "start runc --version" },
  async (b) => {
    b.start();
    const child = new Deno.Command("runc", {
      args: RUNC_ARGS,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    b.end();
    await child.status;
  },
);
