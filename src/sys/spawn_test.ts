import assert from "node:assert/strict";
import { Errno, SyscallError } from "./libc.ts";
import { type ChildExit, reapChild } from "./proc.ts";
import { spawnWithStdio } from "./spawn.ts";

/**
 * Resolves with child `pid`'s exit, reaping it on SIGCHLD (and on a timer,
 * since a signal listener alone keeps no event loop alive).
 */
function reaped(pid: number): Promise<ChildExit> {
  return new Promise((resolve) => {
    const check = () => {
      const exit = reapChild(pid);
      if (!exit) return;
      Deno.removeSignalListener("SIGCHLD", check);
      clearInterval(timer);
      resolve(exit);
    };
    const timer = setInterval(check, 50);
    Deno.addSignalListener("SIGCHLD", check);
    check();
  });
}

Deno.test("spawnWithStdio: the child reads and writes the given files, in its working directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in`, "hello\n");
    await Deno.writeTextFile(`${dir}/out`, "");
    await Deno.writeTextFile(`${dir}/err`, "");
    const pid = spawnWithStdio(
      "sh",
      ["sh", "-c", 'read x; echo "$x from $(pwd)"; echo oops >&2; exit 3'],
      { stdio: [`${dir}/in`, `${dir}/out`, `${dir}/err`], cwd: dir },
    );
    assert.deepEqual(await reaped(pid), { pid, code: 3 });
    assert.equal(await Deno.readTextFile(`${dir}/out`), `hello from ${dir}\n`);
    assert.equal(await Deno.readTextFile(`${dir}/err`), "oops\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnWithStdio: SIGPIPE is not ignored in the child, whatever Deno does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/out`, "");
    const pid = spawnWithStdio(
      "sh",
      ["sh", "-c", "grep SigIgn /proc/self/status"],
      { stdio: ["/dev/null", `${dir}/out`, "/dev/null"] },
    );
    assert.deepEqual(await reaped(pid), { pid, code: 0 });
    const ignored = BigInt(
      `0x${(await Deno.readTextFile(`${dir}/out`)).split(/\s+/)[1]}`,
    );
    const SIGPIPE = 13n;
    assert.equal(ignored & (1n << (SIGPIPE - 1n)), 0n);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnWithStdio: a program not on PATH is ENOENT", () => {
  assert.throws(
    () =>
      spawnWithStdio("berth-no-such-program", ["x"], {
        stdio: ["/dev/null", "/dev/null", "/dev/null"],
      }),
    (e: unknown) => e instanceof SyscallError && e.errno === Errno.ENOENT,
  );
});
