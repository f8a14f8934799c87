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

Deno.test("berth ctr tasks exec and metrics work and print like ctr", async () => {
  await withBusyboxDaemon(async ({ fifoDir, berth, ctr }) => {
    const started = await berth(["run", "-d", IMAGE, "bg", "sleep", "60"]);
    assert.equal(started.code, 0, started.stderr);
    const exec = (
      client: typeof berth,
      id: string,
      args: string[],
      stdin?: string,
    ) =>
      client(
        ["tasks", "exec", "--fifo-dir", fifoDir, "--exec-id", id, ...args],
        stdin,
      );

    const script = ["bg", "sh", "-c", "echo out; echo err >&2; exit 5"];
    const ours = await exec(berth, "e1", script);
    assert.deepEqual([ours.code, ours.stdout, ours.stderr], [
      5,
      "out\n",
      "err\n",
    ]);
    const theirs = await exec(ctr, "e2", script);
    assert.deepEqual([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
    const cat = await exec(berth, "e3", ["bg", "cat"], "to the exec\n");
    assert.deepEqual([cat.code, cat.stdout], [0, "to the exec\n"]);
    const who = [
      "--user",
      "1000:1000",
      "--cwd",
      "/tmp",
      "bg",
      "sh",
      "-c",
      "id; pwd",
    ];
    const ourWho = await exec(berth, "e4", who);
    assert.equal(ourWho.code, 0, ourWho.stderr);
    assert.match(ourWho.stdout, /^uid=1000\(\w+\) gid=1000.*\n\/tmp\n$/);
    assert.equal(ourWho.stdout, (await exec(ctr, "e5", who)).stdout);
    // The exec processes are gone once they have been waited for.
    assert.equal(
      (await berth(["tasks", "ps", "bg"])).stdout.split("\n").length,
      3,
    );

    // A detached exec shows in ps (as ctr shows it) until killed and removed.
    const bgExec = await exec(berth, "e6", ["-d", "bg", "sleep", "60"]);
    assert.equal(bgExec.code, 0, bgExec.stderr);
    const ps = await berth(["tasks", "ps", "bg"]);
    assert.equal(ps.stdout, (await ctr(["tasks", "ps", "bg"])).stdout);
    assert.equal(ps.stdout.split("\n").length, 4);
    const killExec = ["tasks", "kill", "-s", "KILL", "--exec-id", "e6", "bg"];
    assert.equal((await berth(killExec)).code, 0);
    const rmExec = await berth(["tasks", "rm", "-f", "--exec-id", "e6", "bg"]);
    assert.equal(rmExec.code, 137, rmExec.stderr);

    // Metrics: the same table and JSON fields as ctr's (values move on).
    const numbers = (text: string) =>
      text.replace(/\d{4}-\d\d-\d\d [\d:.]+ \+0000 UTC/, "TIME")
        .replace(/\d+/g, "N").replace(/ +/g, " ");
    for (const format of ["table", "json"]) {
      const args = ["tasks", "metrics", "--format", format, "bg"];
      const ourMetrics = await berth(args);
      assert.equal(ourMetrics.code, 0, ourMetrics.stderr);
      const theirMetrics = await ctr(args);
      assert.equal(numbers(ourMetrics.stdout), numbers(theirMetrics.stdout));
    }
    assert.match(
      (await berth(["tasks", "metrics", "bg"])).stdout,
      /^ID +TIMESTAMP +\nbg +\S+ \S+ \+0000 UTC +\n\nMETRIC +VALUE +\n/,
    );
    const bad = await berth(["tasks", "metrics", "--format", "yaml", "bg"]);
    assert.equal(bad.stderr, "ctr: format must be table or json\n");
  });
});
