/**
 * Docker Engine (Debian's `dockerd` 20.10) driving berth through
 * `--containerd`, on namespaces berth has never seen, through the everyday
 * container life cycle with busybox from the local registry — and the very
 * same checks against a real containerd 1.6, so that whatever passes on one
 * passes on the other. Every docker command is bounded in time: a hang
 * fails the test instead of stalling it.
 */
import assert from "node:assert/strict";
import {
  type BackendKind,
  DOCKER,
  startBackend,
  startDockerd,
  type TestDockerd,
} from "./_docker.ts";
import { run as runCommand } from "./_harness.ts";
import { buildImage } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

/** Runs `work` on every item, at most `limit` at a time. */
async function inPool<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  ms = 60_000,
) {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The docker commands the checks use, over one dockerd. */
function dockerOf(dockerd: TestDockerd) {
  const docker = dockerd.docker;
  /** Runs docker and asserts it succeeded; returns its stdout. */
  const ok = async (args: string[], stdin?: string) => {
    const result = await docker(args, { stdin });
    assert.equal(
      result.code,
      0,
      `docker ${args.join(" ")}: ${result.stderr}${result.stdout}`,
    );
    return result.stdout;
  };
  const inspect = async (id: string, format: string) =>
    (await ok(["inspect", "--format", format, id])).trim();
  return { docker, ok, inspect };
}

/** A container that says what appears in /tmp/say and exits 7 on TERM. */
const SPEAKER = [
  "sh",
  "-c",
  'trap "echo term; exit 7" TERM; echo started; ' +
  "while :; do if [ -f /tmp/say ]; then cat /tmp/say; rm /tmp/say; fi; " +
  "sleep 0.1; done",
];

/** A container that exits 9 once the host creates `/shared/go`. */
const WAITER = [
  "sh",
  "-c",
  "while [ ! -f /shared/go ]; do sleep 0.1; done; exit 9",
];

async function lifeCycle(kind: BackendKind, t: Deno.TestContext) {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using backend = await startBackend(kind);
  const namespace = `docker-${crypto.randomUUID().slice(0, 8)}`;
  await using dockerd = await startDockerd({
    backend,
    namespace,
    registry: registry.host,
  });
  const { docker, ok, inspect } = dockerOf(dockerd);
  const image = `${registry.host}/busybox:latest`;
  const run = (args: string[], stdin?: string) =>
    docker(["run", "--network", "none", ...args], { stdin });

  await t.step("pull from the local registry", async () => {
    await ok(["pull", image]);
    assert.match(
      await ok(["images", "--format", "{{.Repository}}"]),
      /busybox/,
    );
  });

  await t.step(
    "run --rm: output and exit codes 0, 3, 42, 50 times each",
    async () => {
      const codes = Array.from({ length: 150 }, (_, i) => [0, 3, 42][i % 3]);
      const failures: string[] = [];
      await inPool(codes, 3, async (code) => {
        try {
          const r = await run([
            "--rm",
            image,
            "sh",
            "-c",
            `echo out ${code}; echo err ${code} >&2; exit ${code}`,
          ]);
          const seen = { code: r.code, stdout: r.stdout, stderr: r.stderr };
          const want = {
            code,
            stdout: `out ${code}\n`,
            stderr: `err ${code}\n`,
          };
          if (JSON.stringify(seen) !== JSON.stringify(want)) {
            failures.push(JSON.stringify(seen));
          }
        } catch (err) {
          failures.push(String(err));
        }
      });
      assert.deepEqual(failures, [], `${failures.length} of 150 runs failed`);
      assert.equal(await ok(["ps", "-aq"]), "", "--rm removed every container");
    },
  );

  await t.step("stdin with -i", async () => {
    const r = await run(
      ["--rm", "-i", image, "sh", "-c", "cat; echo done"],
      "one\ntwo\n",
    );
    assert.deepEqual([r.code, r.stdout], [0, "one\ntwo\ndone\n"], r.stderr);
    const big = "x".repeat(1 << 20);
    const counted = await run(["--rm", "-i", image, "wc", "-c"], big);
    assert.equal(counted.stdout.trim(), String(big.length), counted.stderr);
  });

  await t.step("a terminal with -t", async () => {
    const r = await run(["--rm", "-t", image, "sh", "-c", "tty; exit 5"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
  });

  await t.step(
    "-it: an interactive shell on the client's terminal",
    async () => {
      // `script` gives the client a terminal; typed lines reach the shell,
      // its answers and exit code come back.
      const line = [
        DOCKER,
        "run --rm -it --network none",
        image,
        "sh",
      ].join(" ");
      const r = await runCommand("script", ["-qec", line, "/dev/null"], {
        stdin: "tty; echo $((6 * 7)); exit 4\n",
        env: dockerd.env,
        timeoutMs: 60_000,
      });
      assert.match(r.stdout, /\n\/dev\/pts\/\d+\r*\n/);
      assert.match(r.stdout, /\n42\r*\n/);
      assert.equal(r.code, 4, r.stdout + r.stderr);
    },
  );

  await t.step("--env, --workdir, --user", async () => {
    const r = await run([
      "--rm",
      "--env",
      "GREETING=hello there",
      "--workdir",
      "/tmp/work",
      "--user",
      "1000:1000",
      image,
      "sh",
      "-c",
      'echo "$GREETING"; pwd; id -u; id -g',
    ]);
    assert.deepEqual(
      [r.code, r.stdout],
      [0, "hello there\n/tmp/work\n1000\n1000\n"],
      r.stderr,
    );
  });

  await t.step("--read-only", async () => {
    const r = await run(["--rm", "--read-only", image, "touch", "/file"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Read-only file system/);
    const read = await run([
      "--rm",
      "--read-only",
      image,
      "cat",
      "/etc/passwd",
    ]);
    assert.equal(read.code, 0, read.stderr);
  });

  await t.step("--pids-limit and --memory reach the cgroup", async () => {
    const cgroup = (v1: string, v2: string) =>
      `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`;
    const pids = await run([
      "--rm",
      "--pids-limit",
      "10",
      image,
      "sh",
      "-c",
      cgroup("pids/pids.max", "pids.max"),
    ]);
    assert.deepEqual([pids.code, pids.stdout], [0, "10\n"], pids.stderr);
    const memory = await run([
      "--rm",
      "--memory",
      "64m",
      image,
      "sh",
      "-c",
      cgroup("memory/memory.limit_in_bytes", "memory.max"),
    ]);
    assert.deepEqual(
      [memory.code, memory.stdout],
      [0, `${64 << 20}\n`],
      memory.stderr,
    );
  });

  await ok([
    "run",
    "-d",
    "--network",
    "none",
    "--name",
    "speaker",
    image,
    ...SPEAKER,
  ]);

  await t.step(
    "exec: output, exit code, stdin, -t, env, workdir, user",
    async () => {
      const r = await docker([
        "exec",
        "speaker",
        "sh",
        "-c",
        "echo in exec; exit 5",
      ]);
      assert.deepEqual([r.code, r.stdout], [5, "in exec\n"], r.stderr);
      assert.equal(
        await ok(["exec", "-i", "speaker", "cat"], "piped\n"),
        "piped\n",
      );
      assert.match(
        await ok(["exec", "-t", "speaker", "tty"]),
        /^\/dev\/pts\/\d+\r\n$/,
      );
      assert.equal(
        await ok([
          "exec",
          "-e",
          "X=1",
          "-w",
          "/etc",
          "-u",
          "1000",
          "speaker",
          "sh",
          "-c",
          "echo $X; pwd; id -u",
        ]),
        "1\n/etc\n1000\n",
      );
      const missing = await docker(["exec", "speaker", "/no/such/binary"]);
      assert.equal(missing.code, 126, missing.stderr);
      // dockerd words it, on the client's stdout: nothing from runc leaks
      // onto the process's stderr.
      assert.match(
        missing.stdout,
        /^OCI runtime exec failed: exec failed: .*"\/no\/such\/binary".* no such file or directory: unknown\r\n$/,
      );
      assert.equal(missing.stderr, "");
      assert.equal(
        await ok(["exec", "speaker", "echo", "still here"]),
        "still here\n",
      );
    },
  );

  await t.step("logs: stdout and stderr apart", async () => {
    await ok([
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      "logger",
      image,
      "sh",
      "-c",
      "echo out; echo err >&2; exit 2",
    ]);
    assert.equal((await ok(["wait", "logger"])).trim(), "2");
    const logs = await docker(["logs", "logger"]);
    assert.deepEqual([logs.code, logs.stdout, logs.stderr], [
      0,
      "out\n",
      "err\n",
    ]);
    assert.match(await ok(["logs", "speaker"]), /^started\n/);
  });

  await t.step("top and stats --no-stream", async () => {
    assert.match(await ok(["top", "speaker"]), /sh -c trap/);
    const stats = (await ok([
      "stats",
      "--no-stream",
      "--format",
      "{{.Name}}|{{.PIDs}}|{{.MemUsage}}",
      "speaker",
    ])).trim().split("|");
    assert.equal(stats[0], "speaker");
    assert.ok(Number(stats[1]) >= 1, `PIDs ${stats[1]}`);
    assert.doesNotMatch(stats[2], /^0B/, `memory ${stats[2]}`);
  });

  await t.step("pause and unpause", async () => {
    await ok(["pause", "speaker"]);
    assert.equal(await inspect("speaker", "{{.State.Status}}"), "paused");
    const refused = await docker(["exec", "speaker", "true"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is paused/);
    await ok(["unpause", "speaker"]);
    assert.equal(await inspect("speaker", "{{.State.Status}}"), "running");
    await ok(["exec", "speaker", "true"]);
  });

  await t.step("cp both ways, also from a stopped container", async () => {
    const file = `${dockerd.dir}/to-container.txt`;
    await Deno.writeTextFile(file, "copied in\n");
    await ok(["cp", file, "speaker:/tmp/in.txt"]);
    assert.equal(
      await ok(["exec", "speaker", "cat", "/tmp/in.txt"]),
      "copied in\n",
    );
    await ok(["cp", "speaker:/etc/passwd", `${dockerd.dir}/passwd`]);
    assert.match(await Deno.readTextFile(`${dockerd.dir}/passwd`), /^root:/);
    await ok(["cp", "logger:/etc/group", `${dockerd.dir}/group`]);
    assert.match(await Deno.readTextFile(`${dockerd.dir}/group`), /^root:/);
  });

  await t.step("commit", async () => {
    await ok(["exec", "speaker", "sh", "-c", "echo committed > /data.txt"]);
    await ok([
      "commit",
      "--change",
      'CMD ["cat", "/data.txt"]',
      "speaker",
      "committed:v1",
    ]);
    const r = await run(["--rm", "committed:v1"]);
    assert.deepEqual([r.code, r.stdout], [0, "committed\n"], r.stderr);
  });

  await t.step("stop, kill, wait, start -a, restart", async () => {
    const pid = await inspect("speaker", "{{.State.Pid}}");
    await ok(["restart", "speaker"]);
    assert.equal(await inspect("speaker", "{{.State.Status}}"), "running");
    assert.notEqual(await inspect("speaker", "{{.State.Pid}}"), pid);
    assert.match(await ok(["logs", "speaker"]), /^started\nterm\nstarted\n/);
    await ok(["stop", "speaker"]);
    assert.equal((await ok(["wait", "speaker"])).trim(), "7");
    assert.equal(await inspect("speaker", "{{.State.ExitCode}}"), "7");
    await ok(["start", "speaker"]);
    await ok(["kill", "speaker"]);
    assert.equal((await ok(["wait", "speaker"])).trim(), "137");
    await ok(["start", "speaker"]);
    await ok(["kill", "--signal", "TERM", "speaker"]);
    assert.equal((await ok(["wait", "speaker"])).trim(), "7");
    const quiet =
      (await ok(["run", "-d", "--network", "none", image, "sleep", "600"]))
        .trim();
    await ok(["stop", "--time", "1", quiet]);
    assert.equal((await ok(["wait", quiet])).trim(), "137");
    const created = (await ok([
      "create",
      "--network",
      "none",
      image,
      "sh",
      "-c",
      "echo from start; exit 4",
    ])).trim();
    for (let i = 0; i < 2; i++) {
      const r = await docker(["start", "-a", created]);
      assert.deepEqual([r.code, r.stdout], [4, "from start\n"], r.stderr);
    }
  });

  await ok(["start", "speaker"]);
  const shared = `${dockerd.dir}/shared`;
  await Deno.mkdir(shared);
  const say = async (text: string) => {
    await ok(["exec", "speaker", "sh", "-c", `echo ${text} > /tmp/say`]);
    await until(
      `${text} in the logs`,
      async () => (await ok(["logs", "speaker"])).includes(text),
      30_000,
    );
  };

  await t.step("--live-restore across a dockerd restart", async () => {
    const pid = await inspect("speaker", "{{.State.Pid}}");
    const waiter = (await ok([
      "run",
      "-d",
      "--network",
      "none",
      "-v",
      `${shared}:/shared`,
      image,
      ...WAITER,
    ])).trim();
    await dockerd.restart();
    assert.equal(await inspect("speaker", "{{.State.Status}}"), "running");
    assert.equal(await inspect("speaker", "{{.State.Pid}}"), pid);
    await say("after-dockerd-restart");
    await ok(["exec", "speaker", "true"]);
    // The waiter exits while dockerd is down; the restarted dockerd learns it.
    const waiterPid = await inspect(waiter, "{{.State.Pid}}");
    await dockerd.stop();
    await Deno.writeTextFile(`${shared}/go`, "");
    await until(
      "the waiter to exit",
      async () => !await processExists(waiterPid),
    );
    await dockerd.start();
    assert.equal((await ok(["wait", waiter])).trim(), "9");
    await Deno.remove(`${shared}/go`);
  });

  await t.step(
    `--live-restore across a ${kind} SIGKILL and restart`,
    async () => {
      const pid = await inspect("speaker", "{{.State.Pid}}");
      const waiter = (await ok([
        "run",
        "-d",
        "--network",
        "none",
        "-v",
        `${shared}:/shared`,
        image,
        ...WAITER,
      ])).trim();
      await backend.killAndRestart();
      // dockerd reconnects on its own schedule (gRPC back-off): an attempt
      // that hangs or fails before then is retried.
      await until(
        "dockerd to reach the restarted daemon",
        async () =>
          (await docker(["exec", "speaker", "true"], { timeoutMs: 15_000 })
            .catch(() => undefined))?.code === 0,
        120_000,
      );
      assert.equal(await inspect("speaker", "{{.State.Pid}}"), pid);
      await say("after-daemon-restart");
      const top = await ok(["top", "speaker"]);
      assert.match(top, /sh -c trap/);
      await ok(["stop", "speaker"]);
      assert.equal((await ok(["wait", "speaker"])).trim(), "7");
      await ok(["start", "speaker"]);
      await say("started-again");
      // Release the waiter; its exit reaches dockerd through the daemon.
      await Deno.writeTextFile(`${shared}/go`, "");
      assert.equal((await ok(["wait", waiter])).trim(), "9");
    },
  );
}

async function processExists(pid: string) {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

for (const kind of ["berth", "containerd"] as const) {
  Deno.test({
    name: `Docker Engine drives ${kind} through the everyday life cycle`,
    sanitizeOps: false,
    sanitizeResources: false,
  }, (t) => lifeCycle(kind, t));
}
