import assert from "node:assert/strict";
import { berthCtrArgs, collect } from "../../tests/_harness.ts";
import { IMAGE, MOD, withBusyboxDaemon } from "../_test_busybox.ts";

Deno.test("berth ctr run: output, exit status, stdin, stderr and --rm", async () => {
  await withBusyboxDaemon(async ({ daemon, fifoDir, berth, ctr }) => {
    const run = (args: string[], stdin?: string) =>
      berth(["run", "--rm", "--fifo-dir", fifoDir, IMAGE, ...args], stdin);
    const hello = await run(["c1", "echo", "hello"]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.equal(hello.stdout, "hello\n");
    assert.equal(hello.stderr, "");
    const seven = await run(["c2", "sh", "-c", "exit 7"]);
    assert.equal(seven.code, 7, seven.stderr);
    assert.equal(seven.stderr, "");
    const cat = await run(["c3", "cat"], "data\nmore\n");
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "data\nmore\n");
    const both = await run(["c4", "sh", "-c", "echo out; echo err >&2"]);
    assert.deepEqual([both.stdout, both.stderr], ["out\n", "err\n"]);

    // --rm leaves no container, task, snapshot, lease or FIFO behind.
    assert.equal((await ctr(["containers", "ls", "-q"])).stdout, "");
    assert.equal((await ctr(["tasks", "ls", "-q"])).stdout, "");
    assert.doesNotMatch((await ctr(["snapshots", "ls"])).stdout, /Active/);
    assert.equal((await ctr(["leases", "ls", "-q"])).stdout, "");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(fifoDir)), []);

    const missing = await berth(["run", "--rm", "nope:latest", "c5", "true"]);
    const theirs = await daemon.ctr(["run", "--rm", "nope:latest", "c5"]);
    assert.deepEqual(
      [missing.code, missing.stderr],
      [theirs.code, theirs.stderr],
    );
    const conflict = await berth(["run", "--rm", "-d", IMAGE, "c6"]);
    assert.equal(
      conflict.stderr,
      "ctr: flags --detach and --rm cannot be specified together\n",
    );
  });
});

Deno.test("berth ctr run: flags take effect and print as ctr run does", async () => {
  await withBusyboxDaemon(async ({ daemon, fifoDir, berth, ctr }) => {
    const shared = `${daemon.dir}/shared`;
    await Deno.mkdir(shared);
    await Deno.writeTextFile(`${shared}/file`, "from the host\n");
    // The memory limit is read from the container's own cgroup (v1 or v2),
    // seen through the host's cgroupfs.
    const script = [
      'echo "A=$A"',
      "pwd",
      "cat /mnt/file",
      "ls /sys/class/net",
      "p=$(grep -E '^[0-9]+:memory:' /proc/self/cgroup | cut -d: -f3)",
      'if [ -n "$p" ]; then cat "/sys/fs/cgroup/memory$p/memory.limit_in_bytes"',
      "else cat \"/sys/fs/cgroup$(grep '^0::' /proc/self/cgroup | cut -d: -f3)/memory.max\"; fi",
    ].join("\n");
    const flags = [
      "--fifo-dir",
      fifoDir,
      "--env",
      "A=1",
      "--cwd",
      "/tmp",
      "--net-host",
      "--memory-limit",
      "104857600",
      "--mount",
      `type=bind,src=${shared},dst=/mnt,options=rbind:ro`,
      "--mount",
      "type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup,options=rbind:ro",
    ];
    const ours = await berth([
      "run",
      ...flags,
      IMAGE,
      "f1",
      "sh",
      "-c",
      script,
    ]);
    assert.equal(ours.code, 0, ours.stderr);
    const interfaces = (await Array.fromAsync(Deno.readDir("/sys/class/net")))
      .map((e) => e.name).sort();
    assert.equal(
      ours.stdout,
      ["A=1", "/tmp", "from the host", ...interfaces, "104857600", ""]
        .join("\n"),
    );
    const theirs = await ctr([
      "run",
      ...flags,
      IMAGE,
      "f2",
      "sh",
      "-c",
      script,
    ]);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours.stdout, theirs.stdout);
    // The two containers' records are the same but for id and times.
    const info = async (id: string) =>
      (await ctr(["containers", "info", id])).stdout
        // Whole words only: the id may also occur inside a random path.
        .replace(new RegExp(`\\b${id}\\b`, "g"), "ID")
        .replace(/"(Created|Updated)At": "[^"]*"/g, "");
    assert.equal(await info("f1"), await info("f2"));

    // Without --net-host, only the loopback interface.
    const isolated = await berth([
      "run",
      "--rm",
      "--fifo-dir",
      fifoDir,
      IMAGE,
      "f3",
      "ls",
      "/sys/class/net",
    ]);
    assert.equal(isolated.stdout, "lo\n");
  });
});

Deno.test("berth ctr run forwards SIGTERM to the container", async () => {
  await withBusyboxDaemon(async ({ daemon, fifoDir }) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: berthCtrArgs(daemon, [
        "run",
        "--rm",
        "--fifo-dir",
        fifoDir,
        IMAGE,
        "sig",
        "sh",
        "-c",
        'trap "echo got TERM; exit 3" TERM; echo ready; while true; do sleep 1; done',
      ]),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    try {
      await out.waitFor(/ready\n/);
      child.kill("SIGTERM");
      const { code } = await child.status;
      await out.waitFor(/got TERM\n/);
      assert.equal(code, 3, err.text);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
    }
  });
});

Deno.test("berth ctr run -t gives the container a terminal, as ctr run -t", async () => {
  await withBusyboxDaemon(async ({ daemon, fifoDir }) => {
    // script(1) gives each client a terminal of its own; Deno's own
    // progress escapes (while it waits for a lock) are not the container's.
    const inTerminal = async (client: string, id: string) => {
      const command = [
        client,
        `--address ${daemon.address} --namespace ${daemon.namespace}`,
        `run -t --rm --fifo-dir ${fifoDir}`,
        `${IMAGE} ${id} sh -c 'tty; exit 3'`,
      ].join(" ");
      // script's stdin stays open until the client exits: at EOF script
      // types a byte into the terminal, whose echo lands anywhere in the
      // output, before or after the container's.
      const child = new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const [code, stdout, stderr] = await Promise.all([
        child.status.then((s) => s.code),
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      await child.stdin.close();
      return {
        code,
        stderr,
        // deno-lint-ignore no-control-regex
        stdout: stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""),
      };
    };
    const ours = await inTerminal(`${Deno.execPath()} run -A ${MOD} ctr`, "t1");
    assert.equal(ours.code, 3, ours.stdout + ours.stderr);
    assert.match(ours.stdout, /\/dev\/pts\/\d+\r+\n/);
    const theirs = await inTerminal("ctr", "t2");
    assert.deepEqual([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
    assert.equal((await daemon.ctr(["containers", "ls", "-q"])).stdout, "");
  });
});
