/**
 * Running containers beyond the basics: tasks that outlive the daemon,
 * `ctr run` options seen from inside the container, pause/resume, and bad
 * input refused without leaving anything behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import {
  bundlesDir,
  BUSYBOX,
  ctrRun,
  fifoDir,
  isAlive,
  listBundles,
  prepareBusybox,
  readShimPid,
  reapShimsAndRunc,
  removeAllContainers,
  settles,
  taskStatuses,
  waitUntil,
  withBusybox,
} from "./_containers.ts";
import {
  type CommandResult,
  run,
  startDaemon,
  type TestDaemon,
  watchEvents,
} from "./_harness.ts";

/** `ctr tasks ls` as id → pid. */
async function taskPids(daemon: TestDaemon): Promise<Map<string, number>> {
  const ls = await daemon.ctr(["tasks", "ls"]);
  assert.equal(ls.code, 0, ls.stderr);
  return new Map(
    ls.stdout.split("\n").slice(1).filter(Boolean).map((line) => {
      const [id, pid] = line.split(/\s+/);
      return [id, Number(pid)];
    }),
  );
}

/** Mount points under the daemon's directory. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").map((line) => line.split(" ")[4])
    .filter((point) => point?.startsWith(`${dir}/`));
}

Deno.test("tasks outlive a killed daemon and are found again; a dead shim's task is cleaned up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  let daemon = await startDaemon({ dir });
  let daemonUp = true;
  try {
    await prepareBusybox(daemon);
    const sleepers = Array.from({ length: 10 }, (_, i) => `sleeper${i}`);
    // The short one exits with 42 once the test creates /tmp/go in its
    // rootfs: exactly while no daemon runs.
    // The orphan's shim dies with the daemon: the next daemon must clean
    // up after it (kill its process, unmount, remove bundle and runc state).
    // It runs in a group of its own: a shim's death ends its whole group.
    const started = await Promise.all([
      ctrRun(daemon, [
        "-d",
        "--label",
        "io.containerd.runc.v2.group=orphans",
        BUSYBOX,
        "orphan",
        "sleep",
        "600",
      ]),
      ...sleepers.map((id) =>
        ctrRun(daemon, ["-d", BUSYBOX, id, "sleep", "600"])
      ),
      ctrRun(daemon, [
        "-d",
        BUSYBOX,
        "short",
        "sh",
        "-c",
        "until [ -e /tmp/go ]; do sleep 0.1; done; exit 42",
      ]),
    ]);
    for (const result of started) assert.equal(result.code, 0, result.stderr);
    const ids = [...sleepers, "short", "orphan"];
    const shimPids = new Map<string, number>();
    for (const id of ids) {
      const pid = await readShimPid(daemon, daemon.namespace, id);
      assert.ok(pid, `shim.pid of ${id}`);
      shimPids.set(id, pid);
    }
    const tasks = () =>
      new Client({ address: daemon.address, namespace: daemon.namespace })
        .service(Tasks);
    const orphanPid = (await tasks().get({ containerId: "orphan" })).process
      ?.pid;
    assert.ok(orphanPid && await isAlive(orphanPid));
    const orphanShim = await readShimPid(daemon, daemon.namespace, "orphan");
    assert.ok(orphanShim);

    daemon.process.kill("SIGKILL");
    await daemon.process.status;
    daemonUp = false;
    for (const [id, pid] of shimPids) {
      assert.ok(await isAlive(pid), `shim of ${id} survives the daemon`);
    }
    Deno.kill(orphanShim, "SIGKILL");
    await waitUntil(
      "the orphan's shim dies",
      async () => !await isAlive(orphanShim),
    );
    const shortBundle = join(bundlesDir(daemon), daemon.namespace, "short");
    await Deno.writeTextFile(join(shortBundle, "rootfs", "tmp", "go"), "");
    await waitUntil("short exits", async () => {
      try {
        await Deno.stat(join(shortBundle, "exit"));
        return true;
      } catch {
        return false;
      }
    });

    daemon = await startDaemon({ dir });
    daemonUp = true;
    const statuses = await taskStatuses(daemon);
    assert.deepEqual(
      [...statuses].sort(),
      [
        ...sleepers.map((id) => [id, "RUNNING"]),
        ["short", "STOPPED"],
      ].sort(),
    );
    assert.ok(!await isAlive(orphanPid), "the orphan's process is killed");
    assert.ok(
      !(await listBundles(daemon)).some(([, id]) => id === "orphan"),
      "the orphan's bundle is removed",
    );
    assert.deepEqual(
      (await mountsUnder(dir)).filter((point) => point.includes("/orphan/")),
      [],
    );
    // The container is intact: its task starts again.
    const restarted = await daemon.ctr([
      "tasks",
      "start",
      "-d",
      "--fifo-dir",
      fifoDir(daemon),
      "orphan",
    ]);
    assert.equal(restarted.code, 0, restarted.stderr);
    sleepers.push("orphan");
    const short = await tasks().get({ containerId: "short" });
    assert.equal(short.process?.status, Status.STOPPED);
    assert.equal(short.process?.exitStatus, 42);
    const removed = await daemon.ctr(["tasks", "rm", "short"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /exit code 42/);

    for (const id of sleepers) {
      if (id !== "orphan") {
        assert.ok(await isAlive(shimPids.get(id)!), `shim of ${id}`);
      }
      const ps = await daemon.ctr(["tasks", "ps", id]);
      assert.equal(ps.code, 0, ps.stderr);
      const pid = (await tasks().get({ containerId: id })).process?.pid;
      assert.match(ps.stdout, new RegExp(`^${pid}\\s`, "m"));
      const killed = await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
      assert.equal(killed.code, 0, killed.stderr);
    }
    await waitUntil(
      "the sleepers stop",
      async () =>
        [...(await taskStatuses(daemon)).values()].every((s) =>
          s === "STOPPED"
        ),
    );
    for (const id of sleepers) {
      const exit = await tasks().get({ containerId: id });
      assert.equal(exit.process?.exitStatus, 137, id);
      const rm = await daemon.ctr(["tasks", "rm", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }
    for (const id of ids) {
      const rm = await daemon.ctr(["containers", "rm", id]);
      assert.equal(rm.code, 0, rm.stderr);
    }

    assert.deepEqual(await taskStatuses(daemon), new Map());
    assert.deepEqual(await listBundles(daemon), []);
    assert.deepEqual(await mountsUnder(dir), []);
    const runc = await run("runc", [
      "--root",
      join(daemon.state, "runc", daemon.namespace),
      "list",
      "-q",
    ]);
    assert.equal(runc.stdout.trim(), "");
    await waitUntil("the shims exit", async () => {
      for (const pid of shimPids.values()) {
        if (await isAlive(pid)) return false;
      }
      return true;
    });
  } finally {
    if (daemonUp) await removeAllContainers(daemon);
    await reapShimsAndRunc(daemon);
    await daemon[Symbol.asyncDispose]();
  }
});

/** Interface names in a `/proc/net/dev` listing. */
function interfaceNames(procNetDev: string): string[] {
  return procNetDev.split("\n").slice(2).filter(Boolean)
    .map((line) => line.split(":")[0].trim()).sort();
}

Deno.test("ctr run options take effect inside the container", async (t) => {
  await withBusybox(async (daemon, ctrRun) => {
    await t.step("--env", async () => {
      const env = await ctrRun([
        "--rm",
        "--env",
        "FOO=bar",
        BUSYBOX,
        "e",
        "env",
      ]);
      assert.equal(env.code, 0, env.stderr);
      assert.match(env.stdout, /^FOO=bar$/m);
    });
    await t.step("--cwd", async () => {
      const pwd = await ctrRun(["--rm", "--cwd", "/tmp", BUSYBOX, "w", "pwd"]);
      assert.equal(pwd.code, 0, pwd.stderr);
      assert.equal(pwd.stdout, "/tmp\n");
    });
    await t.step("--mount read-only bind", async () => {
      const host = join(daemon.dir, "host-data");
      await Deno.mkdir(host);
      await Deno.writeTextFile(join(host, "hello.txt"), "from the host\n");
      const out = await ctrRun([
        "--rm",
        "--mount",
        `type=bind,src=${host},dst=/data,options=rbind:ro`,
        BUSYBOX,
        "m",
        "sh",
        "-c",
        "cat /data/hello.txt; if touch /data/new; then echo WRITABLE; fi",
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^from the host\n/);
      assert.doesNotMatch(out.stdout, /WRITABLE/);
      assert.match(out.stdout + out.stderr, /Read-only file system/);
      await assert.rejects(Deno.stat(join(host, "new")), Deno.errors.NotFound);
      assert.deepEqual(
        (await mountsUnder(daemon.dir)).filter((p) => p.includes("/m/")),
        [],
      );
    });
    await t.step("--memory-limit", async () => {
      // containerd's default spec mounts no cgroup filesystem (nor does
      // berth's): the test asks for one to read the limit from inside.
      const out = await ctrRun([
        "--rm",
        "--memory-limit",
        "67108864",
        "--mount",
        "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro",
        BUSYBOX,
        "mem",
        "sh",
        "-c",
        // cgroup v2, else v1
        "cat /sys/fs/cgroup/memory.max 2>/dev/null ||" +
        " cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, "67108864\n");
    });
    await t.step("--net-host", async () => {
      const host = interfaceNames(await Deno.readTextFile("/proc/net/dev"));
      const shared = await ctrRun([
        "--rm",
        "--net-host",
        BUSYBOX,
        "net",
        "cat",
        "/proc/net/dev",
      ]);
      assert.equal(shared.code, 0, shared.stderr);
      assert.deepEqual(interfaceNames(shared.stdout), host);
      // Without it the container has a network namespace of its own.
      const own = await ctrRun([
        "--rm",
        BUSYBOX,
        "net",
        "cat",
        "/proc/net/dev",
      ]);
      assert.equal(own.code, 0, own.stderr);
      assert.deepEqual(interfaceNames(own.stdout), ["lo"]);
    });
  });
});

/**
 * The freezer state of a container's cgroup (`/NS/ID`, as ctr asks for),
 * read on the host: cgroup v1's freezer.state, or v2's cgroup.freeze.
 */
async function freezerState(namespace: string, id: string): Promise<string> {
  try {
    return (await Deno.readTextFile(
      `/sys/fs/cgroup/freezer/${namespace}/${id}/freezer.state`,
    )).trim();
  } catch {
    const frozen = await Deno.readTextFile(
      `/sys/fs/cgroup/${namespace}/${id}/cgroup.freeze`,
    );
    return frozen.trim() === "1" ? "FROZEN" : "THAWED";
  }
}

Deno.test("ctr tasks pause and resume freeze and thaw the task", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", BUSYBOX, "p", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const pause = await daemon.ctr(["tasks", "pause", "p"]);
    assert.equal(pause.code, 0, pause.stderr);
    assert.equal((await taskStatuses(daemon)).get("p"), "PAUSED");
    assert.equal(await freezerState(daemon.namespace, "p"), "FROZEN");
    const resume = await daemon.ctr(["tasks", "resume", "p"]);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal((await taskStatuses(daemon)).get("p"), "RUNNING");
    assert.equal(await freezerState(daemon.namespace, "p"), "THAWED");
  });
});

/** Pids of shim processes serving container `id` for `daemon`. */
async function shimsOf(daemon: TestDaemon, id: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let args: string[];
    try {
      args = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`))
        .split("\0");
    } catch {
      continue; // exited meanwhile
    }
    const flag = (name: string) => args[args.indexOf(name) + 1];
    if (
      args.includes("shim") && flag("-id") === id &&
      flag("-address") === daemon.address
    ) {
      pids.push(Number(entry.name));
    }
  }
  return pids;
}

/** Cgroup directories for `/NS/ID` that exist, on cgroup v1 or v2. */
async function cgroupsOf(namespace: string, id: string): Promise<string[]> {
  const roots = ["/sys/fs/cgroup"];
  for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
    if (entry.isDirectory) roots.push(`/sys/fs/cgroup/${entry.name}`);
  }
  const found: string[] = [];
  for (const root of roots) {
    const dir = join(root, namespace, id);
    try {
      if ((await Deno.stat(dir)).isDirectory) found.push(dir);
    } catch { /* none */ }
  }
  return found;
}

/**
 * Asserts that nothing of task `id` exists: no bundle, no mount in it, no
 * shim, no runc container, no cgroup.
 */
async function assertNoTrace(daemon: TestDaemon, id: string): Promise<void> {
  const bundle = join(bundlesDir(daemon), daemon.namespace, id);
  await assert.rejects(Deno.stat(bundle), Deno.errors.NotFound, "bundle");
  assert.deepEqual(
    (await mountsUnder(daemon.dir)).filter((point) =>
      point === bundle || point.startsWith(`${bundle}/`)
    ),
    [],
    "mounts",
  );
  // A group's idle shim lingers (shim_linger) before it ends.
  assert.deepEqual(await settles(() => shimsOf(daemon, id)), [], "shims");
  const runc = await run("runc", [
    "--root",
    join(daemon.state, "runc", daemon.namespace),
    "list",
    "-q",
  ]);
  assert.ok(!runc.stdout.split("\n").includes(id), "runc container");
  assert.deepEqual(await cgroupsOf(daemon.namespace, id), [], "cgroups");
}

Deno.test("bad input is refused with a clear error and leaves nothing behind", async (t) => {
  await withBusybox(async (daemon, ctrRun) => {
    const containers = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Containers);
    /** Runs ctr, expects failure with `error`, and no container `id`. */
    const refused = async (
      result: Promise<CommandResult>,
      error: RegExp,
      id: string,
    ) => {
      const { code, stderr } = await result;
      assert.notEqual(code, 0);
      assert.match(stderr, error);
      // One error class at the end, as containerd's errdefs print it.
      assert.doesNotMatch(stderr, /Unknown: unknown/);
      const ls = await daemon.ctr(["containers", "ls", "-q"]);
      assert.ok(!ls.stdout.split("\n").includes(id), `container ${id}`);
      await assertNoTrace(daemon, id);
    };

    await t.step("invalid container ids", async () => {
      await refused(
        ctrRun(["--rm", BUSYBOX, "bad/id", "true"]),
        /identifier "bad\/id" must match .*: invalid argument/,
        "bad/id",
      );
      await refused(
        daemon.ctr(["containers", "create", BUSYBOX, "BAD ID"]),
        /identifier "BAD ID" must match .*: invalid argument/,
        "BAD ID",
      );
    });
    await t.step("a missing image", async () => {
      await refused(
        ctrRun(["--rm", "docker.io/library/missing:latest", "noimage", "true"]),
        /image "docker.io\/library\/missing:latest": not found/,
        "noimage",
      );
    });
    await t.step("a missing snapshot", async () => {
      const template = await daemon.ctr([
        "containers",
        "create",
        BUSYBOX,
        "tmpl",
      ]);
      assert.equal(template.code, 0, template.stderr);
      const { container } = await containers.get({ id: "tmpl" });
      assert.ok(container);
      await containers.create({
        container: { ...container, id: "nosnap", snapshotKey: "no-such-key" },
      });
      const start = await daemon.ctr([
        "tasks",
        "start",
        "--fifo-dir",
        fifoDir(daemon),
        "nosnap",
      ]);
      assert.notEqual(start.code, 0);
      assert.match(start.stderr, /no-such-key.*not found/);
      assert.equal((await daemon.ctr(["tasks", "ls", "-q"])).stdout, "");
      await assertNoTrace(daemon, "nosnap");
      for (const id of ["nosnap", "tmpl"]) {
        const rm = await daemon.ctr(["containers", "rm", id]);
        assert.equal(rm.code, 0, rm.stderr);
      }
    });
    await t.step("specs runc rejects", async () => {
      // Refused while runc converts the spec…
      await refused(
        ctrRun([
          "--rm",
          "--rootfs-propagation",
          "bogus",
          BUSYBOX,
          "prop",
          "true",
        ]),
        /rootfsPropagation=bogus is not supported/,
        "prop",
      );
      // …and half-way through runc init, after its cgroup was made.
      await refused(
        ctrRun([
          "--rm",
          "--cpu-period",
          "1",
          "--cpu-quota",
          "1",
          BUSYBOX,
          "period",
          "true",
        ]),
        /runc create failed: .*invalid argument/,
        "period",
      );
    });
    await t.step("a runc binary that does not exist", async () => {
      await refused(
        ctrRun([
          "--rm",
          "--runc-binary",
          "/nonexistent/runc",
          BUSYBOX,
          "norunc",
          "true",
        ]),
        /\/nonexistent\/runc/,
        "norunc",
      );
    });
    await t.step("a process that cannot be executed", async () => {
      await refused(
        ctrRun(["--rm", BUSYBOX, "noexec", "/nonexistent"]),
        /exec: "\/nonexistent": stat \/nonexistent: no such file or directory/,
        "noexec",
      );
    });
    await t.step("a duplicate container id", async () => {
      const first = await ctrRun(["-d", BUSYBOX, "dup", "sleep", "600"]);
      assert.equal(first.code, 0, first.stderr);
      const pid = (await taskPids(daemon)).get("dup");
      // ctr's snapshot for the id exists already, so it fails there…
      const again = await ctrRun(["-d", BUSYBOX, "dup", "sleep", "600"]);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /"dup": already exists/);
      // …while the Containers service refuses the record itself.
      const { container } = await containers.get({ id: "dup" });
      assert.ok(container);
      await assert.rejects(
        containers.create({ container: { ...container, snapshotKey: "x" } }),
        (err) => {
          assert.ok(err instanceof ClientError, String(err));
          assert.equal(err.code, Code.AlreadyExists);
          assert.match(err.message, /container "dup": already exists/);
          return true;
        },
      );
      // The first is untouched: same task, same rootfs, still controllable.
      assert.deepEqual(await taskPids(daemon), new Map([["dup", pid]]));
      await Deno.stat(
        join(
          bundlesDir(daemon),
          daemon.namespace,
          "dup",
          "rootfs",
          "bin",
          "sh",
        ),
      );
      const ps = await daemon.ctr(["tasks", "ps", "dup"]);
      assert.match(ps.stdout, new RegExp(`^${pid}\\s`, "m"));
      // What assertNoTrace looks for is there while the task lives.
      assert.equal((await shimsOf(daemon, "dup")).length, 1);
      assert.notDeepEqual(await cgroupsOf(daemon.namespace, "dup"), []);
      const kill = await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "dup"]);
      assert.equal(kill.code, 0, kill.stderr);
      await waitUntil(
        "dup stops",
        async () => (await taskStatuses(daemon)).get("dup") === "STOPPED",
      );
      const rm = await daemon.ctr(["tasks", "rm", "dup"]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal((await daemon.ctr(["containers", "rm", "dup"])).code, 0);
      await assertNoTrace(daemon, "dup");
    });
  });
});

Deno.test("a duplicate exec id is refused and the first exec keeps running", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", BUSYBOX, "ex", "sleep", "600"]);
    assert.equal(started.code, 0, started.stderr);
    const exec = () =>
      daemon.ctr([
        "tasks",
        "exec",
        "-d",
        "--fifo-dir",
        fifoDir(daemon),
        "--exec-id",
        "same",
        "ex",
        "sleep",
        "600",
      ]);
    const first = await exec();
    assert.equal(first.code, 0, first.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const before = await tasks.get({ containerId: "ex", execId: "same" });
    assert.equal(before.process?.status, Status.RUNNING);

    const second = await exec();
    assert.notEqual(second.code, 0);
    // ctr appends the class of the error's code to the message it strips
    // the class from: containerd's shim names the exec id once, and the
    // code is AlreadyExists.
    assert.equal(second.stderr, "ctr: id same: already exists\n");

    const after = await tasks.get({ containerId: "ex", execId: "same" });
    assert.equal(after.process?.status, Status.RUNNING);
    assert.equal(after.process?.pid, before.process?.pid);
    const ps = await daemon.ctr(["tasks", "ps", "ex"]);
    assert.match(ps.stdout, new RegExp(`^${before.process?.pid}\\s`, "m"));
  });
});

Deno.test("a shim that dies takes its group's tasks with it, as in containerd", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await using events = await watchEvents(daemon.address);
    const groups = [["dies", "a"], ["dies-too", "a"], ["lives", "b"]];
    for (const [id, group] of groups) {
      const r = await ctrRun([
        "-d",
        "--label",
        `io.containerd.runc.v2.group=${group}`,
        BUSYBOX,
        id,
        "sleep",
        "600",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const shim = await readShimPid(daemon, daemon.namespace, "dies");
    assert.ok(shim);
    assert.equal(await readShimPid(daemon, daemon.namespace, "dies-too"), shim);
    assert.notEqual(await readShimPid(daemon, daemon.namespace, "lives"), shim);
    Deno.kill(shim, "SIGKILL");
    await events.waitFor(/\/tasks\/delete[^\n]*"dies"/);
    await events.waitFor(/\/tasks\/delete[^\n]*dies-too/);
    // The other group's task is untouched and listed; the dead are gone.
    const ls = await daemon.ctr(["tasks", "ls"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /lives\s+\d+\s+RUNNING/);
    assert.doesNotMatch(ls.stdout, /dies/);
    assert.match(events.text, /\/tasks\/exit[^\n]*"dies"[^\n]*255/);
    assert.match(events.text, /\/tasks\/exit[^\n]*dies-too[^\n]*255/);
    // As containerd's, a deletion names no process.
    assert.doesNotMatch(events.text, /\/tasks\/delete[^\n]*"id":/);
    assert.deepEqual(
      (await listBundles(daemon)).map(([, id]) => id),
      ["lives"],
    );
    // Its container can run a task again.
    const again = await daemon.ctr([
      "tasks",
      "start",
      "-d",
      "--fifo-dir",
      fifoDir(daemon),
      "dies",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      (await daemon.ctr(["tasks", "ls"])).stdout,
      /dies\s+\d+\s+RUNNING/,
    );
  });
});
