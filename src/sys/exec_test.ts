import assert from "node:assert/strict";
import { Errno, SyscallError } from "./libc.ts";
import { execve, ownArgv } from "./exec.ts";

Deno.test("execve replaces the program, keeping the pid", async () => {
  const module = new URL("./exec.ts", import.meta.url).href;
  const script = `
    import { execve } from ${JSON.stringify(module)};
    console.log(Deno.pid);
    execve("/bin/sh", ["sh", "-c", 'echo "$$ $GREETING"'], { GREETING: "hi" });
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  const [pid, after] = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(after, `${pid} hi`);
});

Deno.test("execve of a missing program throws with errno", () => {
  assert.throws(
    () => execve("/nonexistent/berth", ["berth"], {}),
    (err) => err instanceof SyscallError && err.errno === Errno.ENOENT,
  );
});

Deno.test("ownArgv reads this process's arguments", () => {
  const argv = ownArgv();
  assert.equal(argv[0].split("/").pop(), Deno.execPath().split("/").pop());
  assert.ok(argv.length > 1);
});
