import assert from "node:assert/strict";
import { normalizeCtr } from "../../tests/_harness.ts";
import { IMAGE, withBusyboxDaemon } from "../_test_busybox.ts";

Deno.test("berth ctr tasks ls|ps|pause|resume|kill|rm|start print like ctr", async () => {
  await withBusyboxDaemon(async ({ fifoDir, berth, ctr }) => {
    /** Both clients give the same code, stdout and (normalized) stderr. */
    const same = async (args: string[]) => {
      const ours = await berth(args);
      const theirs = await ctr(args);
      const norm = (text: string) =>
        normalizeCtr(text.replace(/time="[^"]*"/g, "TIME"));
      assert.deepEqual(
        [ours.code, ours.stdout, norm(ours.stderr)],
        [theirs.code, theirs.stdout, norm(theirs.stderr)],
        args.join(" "),
      );
      return ours;
    };
    const detached = await berth(["run", "-d", IMAGE, "bg", "sleep", "60"]);
    assert.deepEqual([detached.code, detached.stdout], [0, ""]);
    const ls = await same(["tasks", "ls"]);
    assert.match(
      ls.stdout,
      /^TASK +PID +STATUS +\nbg +\d+ +RUNNING\n$/,
    );
    await same(["tasks", "ls", "-q"]);
    await same(["t", "list"]);
    assert.match(
      (await same(["tasks", "ps", "bg"])).stdout,
      /^PID +INFO\n\d+ +-\n$/,
    );

    assert.equal((await berth(["tasks", "pause", "bg"])).code, 0);
    assert.match((await same(["tasks", "ls"])).stdout, /bg +\d+ +PAUSED/);
    assert.equal((await berth(["tasks", "resume", "bg"])).code, 0);
    assert.match((await same(["tasks", "ls"])).stdout, /bg +\d+ +RUNNING/);

    // Failures word themselves as ctr's do.
    await same(["tasks", "kill", "nosuch"]);
    await same(["tasks", "kill"]);
    await same(["tasks", "kill", "-s", "SIGFOO", "bg"]);
    await same(["tasks", "kill", "-a", "--exec-id", "x", "bg"]);
    await same(["tasks", "ps"]);
    await same(["tasks", "pause", "nosuch"]);
    await same(["tasks", "rm", "bg", "nosuch"]);

    const kill = await berth(["tasks", "kill", "-s", "KILL", "bg"]);
    assert.equal(kill.code, 0, kill.stderr);
    let status = "";
    for (let i = 0; i < 100 && !/STOPPED/.test(status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await berth(["tasks", "ls"])).stdout;
    }
    assert.match(status, /bg +\d+ +STOPPED/);
    const rm = await berth(["tasks", "rm", "bg"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(
      rm.stderr,
      /level=warning msg="task bg exit with non-zero exit code 137"/,
    );
    await same(["tasks", "rm", "bg"]);

    // A created container's task, started in the foreground.
    // (ctr's containers create reads flags after the id: none there.)
    const created = await ctr([
      "containers",
      "create",
      IMAGE,
      "st",
      "echo",
      "started",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const start = await berth(["tasks", "start", "--fifo-dir", fifoDir, "st"]);
    assert.deepEqual([start.code, start.stdout], [0, "started\n"]);
    assert.equal((await ctr(["tasks", "ls", "-q"])).stdout, "");
    // … and detached, with its pid written down.
    const pidFile = `${fifoDir}/../st.pid`;
    const startD = await berth([
      "tasks",
      "start",
      "-d",
      "--pid-file",
      pidFile,
      "st",
    ]);
    assert.equal(startD.code, 0, startD.stderr);
    const pid = Number(await Deno.readTextFile(pidFile));
    assert.match(
      (await ctr(["tasks", "ls"])).stdout,
      new RegExp(`st +${pid} `),
    );
    const force = await berth(["tasks", "rm", "-f", "st"]);
    assert.equal(force.code, 0, force.stderr);
    assert.equal((await ctr(["tasks", "ls", "-q"])).stdout, "");
  });
});
