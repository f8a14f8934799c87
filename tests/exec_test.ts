/**
 * A running container's processes with the real ctr: stdin that ends,
 * exec'd processes, terminals, metrics, and the task events shims send.
 */
import assert from "node:assert/strict";
import {
  BUSYBOX as IMAGE,
  ctrExec,
  fifoDir,
  readShimPid,
  taskStatuses,
  waitUntil,
  withBusybox,
} from "./_containers.ts";
import {
  type CommandResult,
  run,
  type TestDaemon,
  watchEvents,
} from "./_harness.ts";
import type { Client as ServiceClient } from "@connectrpc/connect";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";

Deno.test("ctr run passes stdin and the container sees its end", async () => {
  await withBusybox(async (_daemon, ctrRun) => {
    const cat = await ctrRun(["--rm", IMAGE, "c3", "cat"], "data\n");
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, "data\n");
    const wc = await ctrRun(
      ["--rm", IMAGE, "c4", "wc", "-c"],
      "x".repeat(300_000),
    );
    assert.equal(wc.stdout.trim(), "300000");
  });
});

Deno.test("ctr tasks exec runs processes beside the init process", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const exec = (args: string[], stdin?: string) =>
      daemon.ctr(
        ["tasks", "exec", "--fifo-dir", fifoDir(daemon), ...args],
        stdin === undefined ? {} : { stdin },
      );
    const hello = await exec(["--exec-id", "e1", "box", "echo", "hi"]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.equal(hello.stdout, "hi\n");
    const status = await exec(["--exec-id", "e2", "box", "sh", "-c", "exit 3"]);
    assert.equal(status.code, 3);
    const piped = await exec(["--exec-id", "e3", "box", "cat"], "in\n");
    assert.equal(piped.stdout, "in\n");
    // The exec'd process shares the container's view: its pid 1 is sleep.
    const comm = await exec(["--exec-id", "e4", "box", "cat", "/proc/1/comm"]);
    assert.equal(comm.stdout, "sleep\n");
    // An exec that runs while another with the same id runs is refused.
    const long = exec(["-d", "--exec-id", "dup", "box", "sleep", "30"]);
    assert.equal((await long).code, 0);
    const dup = await exec(["--exec-id", "dup", "box", "true"]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);
    const missing = await exec(["--exec-id", "e5", "box", "/nonexistent"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nonexistent/);
    // ps sees the init and the detached exec.
    const ps = await daemon.ctr(["tasks", "ps", "box"]);
    assert.equal(ps.stdout.trim().split("\n").length, 3, ps.stdout);
  });
});

/**
 * A shell script printing, for the process it runs as and for the
 * container's init, what the container makes of a process: user and
 * groups, capabilities, no_new_privs, seccomp, cgroups, namespaces,
 * rlimits, working directory, environment, and LSM label.
 */
const IDENTITY = `
for p in $$ 1; do
  echo "== $p"
  grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/$p/status
  cat /proc/$p/cgroup
  for n in cgroup ipc mnt net pid time user uts; do readlink /proc/$p/ns/$n; done
  cat /proc/$p/limits
  echo "cwd $(readlink /proc/$p/cwd)"
  tr '\\0' '\\n' < /proc/$p/environ | sort
  echo "label $(cat /proc/$p/attr/current 2>/dev/null || echo none)"
done`;

Deno.test("an exec'd process is the container's: user, caps, no_new_privs, seccomp, cgroups, namespaces, rlimits, cwd, env", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun([
      "-d",
      "--seccomp",
      "--cap-drop",
      "CAP_NET_RAW",
      "--env",
      "FOO=bar",
      "--cwd",
      "/tmp",
      "--memory-limit",
      "67108864",
      IMAGE,
      "ident",
      "sleep",
      "600",
    ]);
    assert.equal(started.code, 0, started.stderr);
    const out = await ctrExec(daemon, [
      "--exec-id",
      "id1",
      "ident",
      "sh",
      "-c",
      IDENTITY,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const [exec, init] = out.stdout.split(/^== \d+\n/m).slice(1);
    assert.ok(init, out.stdout);
    assert.equal(exec, init);
    // And it is what the container was given, with nothing of the
    // runtime's environment (runc's, the shim's) in it.
    assert.match(exec, /^Uid:\s+0\s+0\s+0\s+0$/m);
    assert.match(exec, /^NoNewPrivs:\s+1$/m);
    assert.match(exec, /^Seccomp:\s+2$/m);
    const bounding = BigInt(`0x${/^CapBnd:\s+(\w+)$/m.exec(exec)![1]}`);
    const NET_RAW = 13n, KILL = 5n;
    assert.equal((bounding >> NET_RAW) & 1n, 0n);
    assert.equal((bounding >> KILL) & 1n, 1n);
    assert.match(exec, /^\d+:memory:\/.*\/ident$/m);
    assert.match(exec, /^Max open files\s+1024\s+1024\s+files\s*$/m);
    assert.match(exec, /^cwd \/tmp$/m);
    const env = exec.split("\n").filter((l) => /^[A-Z_]+=/.test(l));
    assert.deepEqual(env.map((l) => l.split("=")[0]), ["FOO", "HOME", "PATH"]);
    // Another user, when asked for: runc looks it up in the container.
    const user = await ctrExec(daemon, [
      "--exec-id",
      "id2",
      "--user",
      "1000",
      "ident",
      "grep",
      "-E",
      "^(Uid|Gid|Groups):",
      "/proc/self/status",
    ]);
    assert.equal(user.code, 0, user.stderr);
    assert.match(user.stdout, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    assert.match(user.stdout, /^Gid:\s+1000\s+1000\s+1000\s+1000$/m);
  });
});

Deno.test("ctr run -t gives the container a terminal and an interactive shell", async () => {
  await withBusybox(async (daemon) => {
    // `script` gives ctr the pseudo-terminal it insists on for -t.
    const ctrLine = [
      "ctr",
      "--address",
      daemon.address,
      "--namespace",
      daemon.namespace,
      "run",
      "--rm",
      "-t",
      "--fifo-dir",
      fifoDir(daemon),
      IMAGE,
      "tty1",
      "sh",
    ].join(" ");
    // Typed into the shell's terminal: it answers, then exits with 5.
    const r = await run("script", ["-qec", ctrLine, "/dev/null"], {
      stdin: "tty; echo $((6 * 7)); exit 5\n",
    });
    assert.match(r.stdout, /\/dev\/pts\/0/);
    assert.match(r.stdout, /\n42\r*\n/);
    assert.equal(r.code, 5, r.stdout + r.stderr);
  });
});

Deno.test("ctr tasks metrics reports the container's cgroup", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await ctrRun([
      "-d",
      "--memory-limit",
      "67108864",
      IMAGE,
      "m1",
      "sleep",
      "600",
    ]);
    // The start answers once runc has let the init go; until it has exec'd
    // sleep, runc init's threads count in the cgroup too.
    let table = await daemon.ctr(["tasks", "metrics", "m1"]);
    await waitUntil("m1's cgroup holds only sleep", async () => {
      table = await daemon.ctr(["tasks", "metrics", "m1"]);
      return /pids\.current\s+1\b/.test(table.stdout);
    });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TIMESTAMP/);
    assert.match(table.stdout, /m1/);
    assert.match(table.stdout, /pids\.current\s+1\b/);
    assert.match(
      table.stdout,
      /memory\.(limit_in_bytes|usage_limit)\s+67108864/,
    );
  });
});

Deno.test("task events come from the shim in containerd's order", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await using events = await watchEvents(daemon.address);
    await ctrRun(["-d", IMAGE, "ev", "sleep", "600"]);
    await daemon.ctr([
      "tasks",
      "exec",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "x",
      "ev",
      "true",
    ]);
    await daemon.ctr(["tasks", "pause", "ev"]);
    await daemon.ctr(["tasks", "resume", "ev"]);
    await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "ev"]);
    // The kill's answer comes before the exit: a running task is not removed.
    await waitUntil(
      "ev stops",
      async () => (await taskStatuses(daemon)).get("ev") === "STOPPED",
    );
    const removed = await daemon.ctr(["tasks", "rm", "ev"]);
    assert.equal(removed.code, 0, removed.stderr);
    await events.waitFor(/\/tasks\/delete/);
    assert.deepEqual(events.topics("/tasks/"), [
      "/tasks/create",
      "/tasks/start",
      "/tasks/exec-added",
      "/tasks/exec-started",
      "/tasks/exit",
      "/tasks/paused",
      "/tasks/resumed",
      "/tasks/exit",
      "/tasks/delete",
    ], events.text);
  });
});

Deno.test("a container killed for memory reports /tasks/oom before its exit", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await using events = await watchEvents(daemon.address);
    // tail keeps a line without end in memory: past the limit, OOM.
    const r = await ctrRun([
      "--rm",
      "--memory-limit",
      "33554432",
      IMAGE,
      "oom",
      "tail",
      "/dev/zero",
    ]);
    assert.equal(r.code, 137, r.stderr);
    await events.waitFor(/\/tasks\/delete/);
    assert.deepEqual(
      events.topics("/tasks/").filter((t) => /oom|exit/.test(t)),
      ["/tasks/oom", "/tasks/exit"],
      events.text,
    );
  });
});

Deno.test("Tasks.Update changes a running container's resources", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await ctrRun(["-d", IMAGE, "up", "sleep", "600"]);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const limit = 48 * 1024 * 1024;
    await tasks.update({
      containerId: "up",
      resources: {
        typeUrl:
          "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
        value: new TextEncoder().encode(
          JSON.stringify({ memory: { limit } }),
        ),
      },
    });
    // The host's view of the container's memory cgroup (v1 or v2).
    const pid = (await tasks.get({ containerId: "up" })).process!.pid;
    const cgroups = await Deno.readTextFile(`/proc/${pid}/cgroup`);
    const v1 = /^\d+:memory:(.*)$/m.exec(cgroups)?.[1];
    const file = v1 !== undefined
      ? `/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes`
      : `/sys/fs/cgroup${/^0::(.*)$/m.exec(cgroups)![1]}/memory.max`;
    assert.equal((await Deno.readTextFile(file)).trim(), String(limit));
    await assert.rejects(
      tasks.update({
        containerId: "up",
        resources: { typeUrl: "bogus", value: new Uint8Array() },
      }),
      /invalid argument/,
    );
  });
});

/**
 * Runs `fn` with container `id` running `sleep 600`, ctr's namespace and a
 * Tasks client of it.
 */
async function withSleeper(
  id: string,
  fn: (box: {
    daemon: TestDaemon;
    namespace: string;
    tasks: ServiceClient<typeof Tasks>;
    ctrRun: (args: string[]) => Promise<CommandResult>;
  }) => Promise<void>,
): Promise<void> {
  await withBusybox(async (daemon, ctrRun) => {
    const namespace = daemon.namespace;
    const tasks = new Client({ address: daemon.address, namespace })
      .service(Tasks);
    const box = await ctrRun(["-d", IMAGE, id, "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    await fn({ daemon, namespace, tasks, ctrRun });
  });
}

Deno.test("an exited exec's state, once its wait has answered, is what its shim answered, without asking the shim, until it is deleted", async () => {
  await withSleeper("answered", async ({ daemon, namespace, tasks }) => {
    await using events = await watchEvents(daemon.address);
    const exec = await ctrExec(daemon, [
      "--detach",
      "--exec-id",
      "e1",
      "answered",
      "sh",
      "-c",
      "exit 3",
    ]);
    assert.equal(exec.code, 0, exec.stderr);
    await events.waitFor(/\/tasks\/exit[^\n]*"id":"e1"/);
    const process = { containerId: "answered", execId: "e1" };
    // Not waited for through the daemon yet: the shim answers.
    const fromShim = await tasks.get(process);
    assert.equal(fromShim.process?.status, Status.STOPPED);
    assert.equal(fromShim.process?.exitStatus, 3);
    assert.ok(fromShim.process?.pid);
    assert.equal((await tasks.wait(process)).exitStatus, 3);
    // A stopped shim answers nothing: the daemon answers for it.
    const shim = await readShimPid(daemon, namespace, "answered");
    assert.ok(shim);
    Deno.kill(shim, "SIGSTOP");
    try {
      assert.deepEqual(
        await tasks.get(process, { timeoutMs: 10_000 }),
        fromShim,
      );
    } finally {
      Deno.kill(shim, "SIGCONT");
    }
    assert.equal((await tasks.deleteProcess(process)).exitStatus, 3);
    await assert.rejects(tasks.get(process), (err) => {
      assert.ok(err instanceof ClientError, String(err));
      assert.equal(err.code, Code.NotFound);
      return true;
    });
    // The id used again: the new process's exit, not the deleted one's.
    const again = await ctrExec(daemon, [
      "--detach",
      "--exec-id",
      "e1",
      "answered",
      "sh",
      "-c",
      "exit 5",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await tasks.wait(process)).exitStatus, 5);
    const reused = await tasks.get(process);
    assert.equal(reused.process?.status, Status.STOPPED);
    assert.equal(reused.process?.exitStatus, 5);
    assert.equal((await tasks.deleteProcess(process)).exitStatus, 5);
  });
});

Deno.test("an exec whose start fails stays created with no exit, as in containerd", async () => {
  await withSleeper("failing", async ({ daemon, namespace, tasks, ctrRun }) => {
    await using events = await watchEvents(daemon.address);
    const exec = (execId: string) =>
      ctrExec(daemon, [
        "--detach",
        "--exec-id",
        execId,
        "failing",
        "/nonexist",
      ]);
    const failed = await exec("bad");
    assert.equal(failed.code, 1);
    assert.equal(
      failed.stderr,
      'ctr: OCI runtime exec failed: exec failed: unable to start container process: exec: "/nonexist": stat /nonexist: no such file or directory: unknown\n',
    );
    // What containerd 1.6's shim answers for the same steps (checked
    // against a private containerd): created, pid 0, exit status 0, and a
    // wait that ends with status 0 at Go's zero time.
    const { process } = await tasks.get({
      containerId: "failing",
      execId: "bad",
    });
    assert.equal(process?.status, Status.CREATED);
    assert.equal(process?.pid, 0);
    assert.equal(process?.exitStatus, 0);
    const waited = await tasks.wait({ containerId: "failing", execId: "bad" });
    assert.equal(waited.exitStatus, 0);
    assert.equal(waited.exitedAt?.seconds, -62135596800n);
    const kill = await daemon.ctr([
      "tasks",
      "kill",
      "--exec-id",
      "bad",
      "failing",
    ]);
    assert.equal(
      kill.stderr,
      "ctr: process not created: failed precondition\n",
    );
    const again = await exec("bad");
    assert.equal(again.stderr, "ctr: id bad: already exists\n");
    // containerd's shim dies on a second start (it closes a closed
    // channel); berth refuses it.
    await assert.rejects(
      tasks.start({ containerId: "failing", execId: "bad" }),
      (err) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.equal(err.code, Code.FailedPrecondition);
        return true;
      },
    );
    const deleted = await tasks.deleteProcess({
      containerId: "failing",
      execId: "bad",
    });
    assert.equal(deleted.exitStatus, 0);
    assert.equal(
      (await taskStatuses(daemon, namespace)).get("failing"),
      "RUNNING",
    );
    // Only the exec's addition is told: no start, no exit.
    const after = await ctrRun(["-d", IMAGE, "after-failing", "true"]);
    assert.equal(after.code, 0, after.stderr);
    await events.waitFor(/\/tasks\/exit[^\n]*after-failing/);
    assert.deepEqual(
      events.topics("/tasks/").filter((t) => !t.startsWith("/tasks/exit")),
      ["/tasks/exec-added", "/tasks/create", "/tasks/start"],
      events.text,
    );
    assert.doesNotMatch(events.text, /\/tasks\/exit[^\n]*"failing"/);
  });
});

Deno.test("a terminal resize of an exited exec is refused as containerd's shim refuses it; the init's is not", async () => {
  await withSleeper("resized", async ({ daemon, tasks }) => {
    // Detached, so that ctr leaves it for the daemon to keep once it ends.
    const kept = await ctrExec(daemon, [
      "--detach",
      "--exec-id",
      "kept",
      "resized",
      "true",
    ]);
    assert.equal(kept.code, 0, kept.stderr);
    await tasks.wait({ containerId: "resized", execId: "kept" });
    await assert.rejects(
      tasks.resizePty({
        containerId: "resized",
        execId: "kept",
        width: 80,
        height: 24,
      }),
      (err) => {
        assert.ok(err instanceof ClientError, String(err));
        assert.equal(err.code, Code.Unknown);
        assert.equal(err.message, "cannot resize a stopped container: unknown");
        return true;
      },
    );
    await tasks.resizePty({ containerId: "resized", width: 80, height: 24 });
  });
});

Deno.test("a kill that runc or the kernel refuses is worded as containerd's shim words it", async () => {
  await withSleeper("refused", async ({ daemon }) => {
    // Signal 99 does not exist: runc refuses it for the init, the kernel
    // for an exec (text checked against a private containerd 1.6).
    const init = await daemon.ctr(["tasks", "kill", "-s", "99", "refused"]);
    assert.equal(init.code, 1);
    assert.match(
      init.stderr,
      /^ctr: unknown error after kill: runc did not terminate successfully: exit status 1: [^\n]*invalid argument\n: unknown\n$/,
    );
    const sleeper = await ctrExec(daemon, [
      "--detach",
      "--exec-id",
      "sleeper",
      "refused",
      "sleep",
      "300",
    ]);
    assert.equal(sleeper.code, 0, sleeper.stderr);
    const exec = await daemon.ctr([
      "tasks",
      "kill",
      "-s",
      "99",
      "--exec-id",
      "sleeper",
      "refused",
    ]);
    assert.equal(
      exec.stderr,
      "ctr: exec kill error: unknown error after kill: invalid argument: unknown\n",
    );
  });
});
