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

Deno.test("spawnWithStdio: the child gets this process's environment as it stands, or the one given", async () => {
  const dir = await Deno.makeTempDir();
  const name = "BERTH_SPAWN_TEST_VAR";
  try {
    const printed = async (env?: Record<string, string>) => {
      const out = `${dir}/out`;
      await Deno.writeTextFile(out, "");
      const pid = spawnWithStdio(
        "sh",
        ["sh", "-c", `echo "\${${name}-unset}"`],
        { stdio: ["/dev/null", out, "/dev/null"], env },
      );
      assert.deepEqual(await reaped(pid), { pid, code: 0 });
      return (await Deno.readTextFile(out)).trim();
    };
    assert.equal(await printed(), "unset");
    Deno.env.set(name, "first");
    assert.equal(await printed(), "first");
    // Set again, grown: libc may move the environment block.
    Deno.env.set(name, "second".repeat(100));
    for (let i = 0; i < 50; i++) Deno.env.set(`${name}_${i}`, String(i));
    assert.equal(await printed(), "second".repeat(100));
    assert.equal(
      await printed({ [name]: "given", PATH: "/usr/bin:/bin" }),
      "given",
    );
  } finally {
    Deno.env.delete(name);
    for (let i = 0; i < 50; i++) Deno.env.delete(`${name}_${i}`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnWithStdio: a program found on PATH is found again after it moved", async () => {
  const dir = await Deno.makeTempDir();
  const path = Deno.env.get("PATH");
  try {
    for (const sub of ["a", "b", "c"]) await Deno.mkdir(`${dir}/${sub}`);
    const script = (code: number) => `#!/bin/sh\nexit ${code}\n`;
    // A file that is not executable is passed over, as by execvp.
    await Deno.writeTextFile(`${dir}/a/berth-moving`, script(1));
    await Deno.writeTextFile(`${dir}/b/berth-moving`, script(7), {
      mode: 0o755,
    });
    Deno.env.set("PATH", `${dir}/a:${dir}/b:${dir}/c:${path}`);
    const run = async () => {
      const pid = spawnWithStdio("berth-moving", ["berth-moving"], {
        stdio: ["/dev/null", "/dev/null", "/dev/null"],
      });
      return (await reaped(pid)).code;
    };
    assert.equal(await run(), 7);
    await Deno.rename(`${dir}/b/berth-moving`, `${dir}/c/berth-moving`);
    assert.equal(await run(), 7);
    await Deno.remove(`${dir}/c/berth-moving`);
    await assert.rejects(
      run,
      (e: unknown) => e instanceof SyscallError && e.errno === Errno.ENOENT,
    );
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    await Deno.remove(dir, { recursive: true });
  }
});
