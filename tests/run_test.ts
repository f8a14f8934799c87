/**
 * Containers that run: the real `ctr run` against berth, with berth's shim
 * driving runc. (Terminals, exec and restart survival come later.)
 */
import assert from "node:assert/strict";
import { ctrArgs, run } from "./_harness.ts";
import { BUSYBOX as IMAGE, fifoDir, withBusybox } from "./_containers.ts";

Deno.test("ctr run prints and exits with the container's status", async () => {
  await withBusybox(async (_daemon, ctrRun) => {
    const hello = await ctrRun(["--rm", IMAGE, "c1", "echo", "hello"]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.equal(hello.stdout, "hello\n");
    const seven = await ctrRun(["--rm", IMAGE, "c2", "sh", "-c", "exit 7"]);
    assert.equal(seven.code, 7, seven.stderr);
  });
});

Deno.test("ctr run --rm whose reader is slow at the exit prints all of the output", async () => {
  // ctr closes its FIFO readers as soon as it learns of the exit: output
  // still in the FIFO then (its reader blocked on a slow stdout) was lost.
  await withBusybox(async (daemon) => {
    const written = 4 << 20;
    const ctr = new Deno.Command("ctr", {
      args: ctrArgs(daemon, [
        "run",
        "--rm",
        "--fifo-dir",
        fifoDir(daemon),
        IMAGE,
        "slow",
        "head",
        "-c",
        `${written}`,
        "/dev/zero",
      ]),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const errors = new Response(ctr.stderr).text();
    let read = 0;
    for await (const chunk of ctr.stdout) {
      read += chunk.length;
      // A consumer slower than ctr (a throttle, not a wait for an event).
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const { code } = await ctr.status;
    assert.equal(code, 0, await errors);
    assert.equal(read, written);
  });
});

Deno.test("ctr run -d, tasks ls|ps|kill|rm and containers rm", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", IMAGE, "bg", "sleep", "60"]);
    assert.equal(started.code, 0, started.stderr);
    const ls = await daemon.ctr(["tasks", "ls"]);
    assert.match(ls.stdout, /^TASK\s+PID\s+STATUS\s*\nbg\s+\d+\s+RUNNING/);
    const ps = await daemon.ctr(["tasks", "ps", "bg"]);
    assert.match(ps.stdout, /^PID\s+INFO/);
    assert.equal(
      (await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "bg"])).code,
      0,
    );
    let status = "";
    for (let i = 0; i < 50 && !/STOPPED/.test(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await daemon.ctr(["tasks", "ls"])).stdout;
    }
    assert.match(status, /bg\s+\d+\s+STOPPED/);
    assert.equal((await daemon.ctr(["tasks", "rm", "bg"])).code, 0);
    assert.equal((await daemon.ctr(["containers", "rm", "bg"])).code, 0);
    assert.equal((await daemon.ctr(["tasks", "ls", "-q"])).stdout, "");
    // Nothing left in runc either.
    const runc = await run("runc", [
      "--root",
      `${daemon.state}/runc/${daemon.namespace}`,
      "list",
      "-q",
    ]);
    assert.equal(runc.stdout.trim(), "");
  });
});
