/**
 * Shim groups: which containers share one `berth shim` (their namespace's,
 * a named group's, or none with `shim_group = "container"`), the cap on
 * tasks per shim, a shim that ends only with its last task, and tasks in
 * several groups that outlive a killed daemon.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bundlesDir,
  BUSYBOX,
  fifoDir,
  isAlive,
  prepareBusybox,
  readShimPid,
  reapShimsAndRunc,
  settles,
  strayProcesses,
  taskStatuses,
  waitUntil,
} from "./_containers.ts";
import {
  type CommandResult,
  startDaemon,
  type TestDaemon,
  uniqueNamespace,
  watchEvents,
} from "./_harness.ts";

const GROUP = "io.containerd.runc.v2.group";

/** `ctr -n NS run -d --fifo-dir … ARGS` against `daemon`. */
function runDetached(
  daemon: TestDaemon,
  namespace: string,
  args: string[],
): Promise<CommandResult> {
  return daemon.ctr([
    "-n",
    namespace,
    "run",
    "-d",
    "--fifo-dir",
    fifoDir(daemon),
    ...args,
  ]);
}

/** Imports busybox into the daemon's namespace and each of `namespaces`. */
async function prepare(daemon: TestDaemon, namespaces: string[]) {
  await prepareBusybox(daemon);
  for (const ns of namespaces) {
    const imported = await daemon.ctr([
      "-n",
      ns,
      "images",
      "import",
      join(daemon.dir, "busybox.tar"),
    ]);
    assert.equal(imported.code, 0, imported.stderr);
  }
}

/** Kills and removes every task and container of `namespaces`. */
async function removeAll(daemon: TestDaemon, namespaces: string[]) {
  for (const ns of namespaces) {
    const ids = (await daemon.ctr(["-n", ns, "containers", "ls", "-q"]))
      .stdout.split("\n").filter(Boolean);
    await Promise.all(ids.map(async (id) => {
      await daemon.ctr(["-n", ns, "tasks", "kill", "-s", "SIGKILL", id]);
      await daemon.ctr(["-n", ns, "tasks", "rm", "-f", id]);
      await daemon.ctr(["-n", ns, "containers", "rm", id]);
    }));
  }
}

/** Fails if a shim or container process of the test still runs. */
async function assertNoStrays(daemon: TestDaemon) {
  assert.deepEqual(await settles(() => strayProcesses(daemon), 10_000), []);
}

/** `ctr -n NS tasks kill -s SIGKILL ID` then `tasks rm ID`, both succeeding. */
async function killAndRemove(daemon: TestDaemon, ns: string, id: string) {
  const killed = await daemon.ctr(["-n", ns, "tasks", "kill", "-s", "9", id]);
  assert.equal(killed.code, 0, killed.stderr);
  await waitUntil(
    `${id} stops`,
    async () => (await taskStatuses(daemon, ns)).get(id) === "STOPPED",
  );
  const removed = await daemon.ctr(["-n", ns, "tasks", "rm", id]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stderr, /exit code 137/);
}

Deno.test("a namespace's containers share a shim up to shim_max_tasks; a named group and another namespace have their own; a shim ends with its last task", async () => {
  await using daemon = await startDaemon({
    config: `[runtimes."io.containerd.runc.v2"]\nshim_max_tasks = 3\n`,
  });
  const other = uniqueNamespace("other");
  const namespaces = [daemon.namespace, other];
  try {
    await prepare(daemon, [other]);
    const plain = ["a1", "a2", "a3", "a4"];
    const started = await Promise.all([
      ...plain.map((id) =>
        runDetached(daemon, daemon.namespace, [BUSYBOX, id, "sleep", "600"])
      ),
      runDetached(daemon, daemon.namespace, [
        "--label",
        `${GROUP}=web`,
        BUSYBOX,
        "g1",
        "sleep",
        "600",
      ]),
      // containerd's runc shim reads the group from the spec's annotations.
      runDetached(daemon, daemon.namespace, [
        "--annotation",
        `${GROUP}=web`,
        BUSYBOX,
        "g2",
        "sleep",
        "600",
      ]),
      runDetached(daemon, other, [BUSYBOX, "o1", "sleep", "600"]),
    ]);
    for (const r of started) assert.equal(r.code, 0, r.stderr);

    const shimOf = new Map<string, number>();
    for (
      const [ns, id] of [
        ...plain.map((id) => [daemon.namespace, id]),
        [daemon.namespace, "g1"],
        [daemon.namespace, "g2"],
        [other, "o1"],
      ]
    ) {
      const pid = await readShimPid(daemon, ns, id);
      assert.ok(pid, `shim.pid of ${id}`);
      shimOf.set(id, pid);
    }
    const byShim = Map.groupBy(plain, (id) => shimOf.get(id)!);
    assert.deepEqual([...byShim.values()].map((ids) => ids.length).sort(), [
      1,
      3,
    ]);
    assert.equal(shimOf.get("g1"), shimOf.get("g2"));
    const plainShims = new Set(plain.map((id) => shimOf.get(id)));
    assert.ok(!plainShims.has(shimOf.get("g1")));
    assert.ok(!plainShims.has(shimOf.get("o1")));
    assert.notEqual(shimOf.get("o1"), shimOf.get("g1"));

    // One container's end disturbs none of its neighbours; the shim ends
    // only when its last task is deleted.
    const [first, second, last] = [...byShim.values()].find((ids) =>
      ids.length === 3
    )!;
    const shared = shimOf.get(first)!;
    await killAndRemove(daemon, daemon.namespace, first);
    await killAndRemove(daemon, daemon.namespace, second);
    assert.ok(await isAlive(shared), "the shim serves its last task");
    const statuses = await taskStatuses(daemon, daemon.namespace);
    assert.equal(statuses.get(last), "RUNNING");
    const exec = await daemon.ctr([
      "tasks",
      "exec",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "hello",
      last,
      "echo",
      "still here",
    ]);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, "still here\n");
    await killAndRemove(daemon, daemon.namespace, last);
    await waitUntil(
      "the shared shim exits",
      async () => !await isAlive(shared),
    );
    assert.ok(await isAlive(shimOf.get("g1")!), "the web group's shim");
  } finally {
    await removeAll(daemon, namespaces);
    await reapShimsAndRunc(daemon);
  }
  await assertNoStrays(daemon);
});

Deno.test('shim_group = "container" gives each container its own shim', async () => {
  await using daemon = await startDaemon({
    config: `[runtimes."io.containerd.runc.v2"]\nshim_group = "container"\n`,
  });
  try {
    await prepare(daemon, []);
    for (const id of ["c1", "c2"]) {
      const r = await runDetached(daemon, daemon.namespace, [
        BUSYBOX,
        id,
        "sleep",
        "600",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const c1 = await readShimPid(daemon, daemon.namespace, "c1");
    const c2 = await readShimPid(daemon, daemon.namespace, "c2");
    assert.ok(c1 && c2);
    assert.notEqual(c1, c2);
    await killAndRemove(daemon, daemon.namespace, "c1");
    await waitUntil("c1's shim exits", async () => !await isAlive(c1));
    assert.ok(await isAlive(c2));
  } finally {
    await removeAll(daemon, [daemon.namespace]);
    await reapShimsAndRunc(daemon);
  }
  await assertNoStrays(daemon);
});

Deno.test("50 containers in several groups outlive a killed daemon; those that exit meanwhile report their real exit codes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  let daemon = await startDaemon({ dir });
  let daemonUp = true;
  const other = uniqueNamespace("other");
  const namespaces = [daemon.namespace, other];
  try {
    await prepare(daemon, [other]);
    // 20 in the namespace's shared shim, 10 in each of two named groups, 10 in
    // another namespace; two of each group exit while no daemon runs.
    const plan: { ns: string; id: string; labels: string[]; code?: number }[] =
      [];
    const groups: [string, string, string | undefined, number][] = [
      [daemon.namespace, "plain", undefined, 20],
      [daemon.namespace, "web", "web", 10],
      [daemon.namespace, "db", "db", 10],
      [other, "other", undefined, 10],
    ];
    let code = 10;
    for (const [ns, name, group, count] of groups) {
      for (let i = 0; i < count; i++) {
        plan.push({
          ns,
          id: `${name}-${i}`,
          labels: group ? ["--label", `${GROUP}=${group}`] : [],
          code: i < 2 ? code++ : undefined,
        });
      }
    }
    const started = await Promise.all(
      plan.map((c) =>
        runDetached(daemon, c.ns, [
          ...c.labels,
          BUSYBOX,
          c.id,
          ...(c.code === undefined ? ["sleep", "600"] : [
            "sh",
            "-c",
            `until [ -e /tmp/go ]; do sleep 0.1; done; exit ${c.code}`,
          ]),
        ])
      ),
    );
    for (const r of started) assert.equal(r.code, 0, r.stderr);
    const shims = new Set<number>();
    for (const c of plan) {
      const pid = await readShimPid(daemon, c.ns, c.id);
      assert.ok(pid, `shim.pid of ${c.id}`);
      shims.add(pid);
    }
    assert.equal(shims.size, 4, "one shim per group");

    daemon.process.kill("SIGKILL");
    await daemon.process.status;
    daemonUp = false;
    const exiting = plan.filter((c) => c.code !== undefined);
    for (const c of exiting) {
      const bundle = join(bundlesDir(daemon), c.ns, c.id);
      await Deno.writeTextFile(join(bundle, "rootfs", "tmp", "go"), "");
    }
    await waitUntil("the exits are recorded", async () => {
      for (const c of exiting) {
        try {
          await Deno.stat(join(bundlesDir(daemon), c.ns, c.id, "exit"));
        } catch {
          return false;
        }
      }
      return true;
    });

    daemon = await startDaemon({ dir });
    daemonUp = true;
    for (const ns of namespaces) {
      const statuses = await taskStatuses(daemon, ns);
      assert.deepEqual(
        [...statuses].sort(),
        plan.filter((c) => c.ns === ns).map((
          c,
        ) => [c.id, c.code === undefined ? "RUNNING" : "STOPPED"]).sort(),
      );
    }
    for (const c of exiting) {
      const removed = await daemon.ctr(["-n", c.ns, "tasks", "rm", c.id]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stderr, new RegExp(`exit code ${c.code}\\b`));
    }
    // The groups' shims take new containers again.
    for (const [ns, name, group] of groups) {
      const id = `${name}-new`;
      const r = await runDetached(daemon, ns, [
        ...(group ? ["--label", `${GROUP}=${group}`] : []),
        BUSYBOX,
        id,
        "sleep",
        "600",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        await readShimPid(daemon, ns, id),
        await readShimPid(daemon, ns, `${name}-5`),
        `${id} joins its group's shim`,
      );
      await killAndRemove(daemon, ns, id);
    }
    // Every running one is controllable: one exec per group, then kills.
    for (const [ns, name] of groups) {
      const exec = await daemon.ctr([
        "-n",
        ns,
        "tasks",
        "exec",
        "--fifo-dir",
        fifoDir(daemon),
        "--exec-id",
        "again",
        `${name}-5`,
        "echo",
        name,
      ]);
      assert.equal(exec.code, 0, exec.stderr);
      assert.equal(exec.stdout, `${name}\n`);
    }
    await Promise.all(
      plan.filter((c) => c.code === undefined).map((c) =>
        killAndRemove(daemon, c.ns, c.id)
      ),
    );
    await waitUntil("every shim exits", async () => {
      for (const pid of shims) if (await isAlive(pid)) return false;
      return true;
    });
    await assertNoStrays(daemon);
  } finally {
    if (daemonUp) await removeAll(daemon, namespaces);
    await reapShimsAndRunc(daemon);
    await daemon[Symbol.asyncDispose]();
  }
});

Deno.test("a group's shim left without tasks lingers for the group's next container, and ends with its daemon", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  const config = `[runtimes."io.containerd.runc.v2"]\nshim_linger = "10m"\n`;
  let daemon = await startDaemon({ dir, config });
  try {
    await prepare(daemon, []);
    const start = async (id: string) => {
      const r = await runDetached(daemon, daemon.namespace, [
        BUSYBOX,
        id,
        "sleep",
        "600",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const pid = await readShimPid(daemon, daemon.namespace, id);
      assert.ok(pid, `shim.pid of ${id}`);
      return pid;
    };
    const first = await start("a");
    await killAndRemove(daemon, daemon.namespace, "a");
    assert.ok(await isAlive(first), "the idle shim lingers");
    assert.equal(await start("b"), first, "the next container joins it");
    await killAndRemove(daemon, daemon.namespace, "b");

    // A killed daemon leaves no idle shim behind: it ends when its last
    // client is gone.
    daemon.process.kill("SIGKILL");
    await daemon.process.status;
    await waitUntil("the idle shim exits", async () => !await isAlive(first));

    // A daemon that stops shuts its idle shims down.
    daemon = await startDaemon({ dir, config });
    const second = await start("c");
    await killAndRemove(daemon, daemon.namespace, "c");
    assert.ok(await isAlive(second), "the idle shim lingers");
    await daemon.stop();
    await waitUntil("the idle shim exits", async () => !await isAlive(second));
  } finally {
    if (daemon.process.pid && await isAlive(daemon.process.pid)) {
      await removeAll(daemon, [daemon.namespace]);
    }
    await reapShimsAndRunc(daemon);
    await daemon[Symbol.asyncDispose]();
  }
});

/** `[topic, event]` of each `/tasks/…` line `ctr events` printed. */
function taskEvents(text: string): [string, Record<string, unknown>][] {
  return [...text.matchAll(/ (\/tasks\/[a-z-]+) (\{.*\})$/gm)].map((m) => [
    m[1],
    JSON.parse(m[2]),
  ]);
}

Deno.test("events stay in order under sharing: no /tasks/exit before its /tasks/start or /tasks/exec-started, 200 instant exits and 32 execs over four groups", async () => {
  await using daemon = await startDaemon();
  try {
    await prepare(daemon, []);
    await using events = await watchEvents(daemon.address);
    const groups = ["g0", "g1", "g2", "g3"];
    const label = (i: number) => ["--label", `${GROUP}=${groups[i % 4]}`];
    // One long-running container per group, for the execs.
    for (const [i, group] of groups.entries()) {
      const r = await runDetached(daemon, daemon.namespace, [
        ...label(i),
        BUSYBOX,
        `host-${group}`,
        "sleep",
        "600",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const ids = Array.from({ length: 200 }, (_, i) => `quick-${i}`);
    // Each batch execs once in every group's host: concurrent execs in one
    // container can be refused on cgroup v1 (runc sees the freezer move).
    const execsOf = (batch: number): [string, string][] =>
      groups.map((group) => [`host-${group}`, `x-${group}-${batch}`]);
    const execs: [string, string][] = [];
    // Batches keep the machine responsive; within one, all run at once.
    for (let at = 0; at < ids.length; at += 25) {
      const batch = ids.slice(at, at + 25);
      const execBatch = execsOf(at / 25);
      execs.push(...execBatch);
      const results = await Promise.all([
        ...batch.map((id, k) =>
          runDetached(daemon, daemon.namespace, [
            ...label(at + k),
            BUSYBOX,
            id,
            "true",
          ])
        ),
        ...execBatch.map(([host, exec]) =>
          daemon.ctr([
            "tasks",
            "exec",
            "--fifo-dir",
            fifoDir(daemon),
            "--exec-id",
            exec,
            host,
            "true",
          ])
        ),
      ]);
      for (const r of results) assert.equal(r.code, 0, r.stderr);
    }
    const exited = new Set<string>();
    await waitUntil("every exit is published", () => {
      for (const [topic, e] of taskEvents(events.text)) {
        if (topic === "/tasks/exit") exited.add(String(e.id));
      }
      return Promise.resolve(
        ids.every((id) => exited.has(id)) &&
          execs.every(([, exec]) => exited.has(exec)),
      );
    });
    const seen = taskEvents(events.text);
    const at = (topic: string, key: string, value: string) =>
      seen.findIndex(([t, e]) => t === topic && e[key] === value);
    const late: string[] = [];
    for (const id of ids) {
      const start = at("/tasks/start", "container_id", id);
      const exit = at("/tasks/exit", "id", id);
      if (start < 0 || exit < start) {
        late.push(`${id}: start ${start}, exit ${exit}`);
      }
    }
    for (const [, exec] of execs) {
      const start = at("/tasks/exec-started", "exec_id", exec);
      const exit = at("/tasks/exit", "id", exec);
      if (start < 0 || exit < start) {
        late.push(`${exec}: exec-started ${start}, exit ${exit}`);
      }
    }
    assert.deepEqual(late, []);
    // Four groups, four shims.
    const shims = new Set<number | undefined>();
    for (const group of groups) {
      shims.add(await readShimPid(daemon, daemon.namespace, `host-${group}`));
    }
    assert.equal(shims.size, 4);
  } finally {
    await removeAll(daemon, [daemon.namespace]);
    await reapShimsAndRunc(daemon);
  }
  await assertNoStrays(daemon);
});

/** The zombie children of process `parent`. */
async function zombiesOf(parent: number): Promise<number[]> {
  const zombies = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`)
      .catch(() => "");
    // Fields after the command's closing parenthesis: state, ppid, …
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z" && Number(ppid) === parent) {
      zombies.push(Number(entry.name));
    }
  }
  return zombies;
}

Deno.test("a shared shim reaps the orphans its containers leave", async () => {
  await using daemon = await startDaemon();
  try {
    await prepareBusybox(daemon);
    const keeper = await runDetached(daemon, daemon.namespace, [
      BUSYBOX,
      "keeper",
      "sleep",
      "600",
    ]);
    assert.equal(keeper.code, 0, keeper.stderr);
    // In the host's PID namespace the subshell's sleep, orphaned, becomes
    // the shim's child; the container's end kills it.
    const orphaning = await runDetached(daemon, daemon.namespace, [
      "--with-ns",
      "pid:/proc/self/ns/pid",
      BUSYBOX,
      "orphaning",
      "sh",
      "-c",
      "(sleep 600 &); exec sleep 600",
    ]);
    assert.equal(orphaning.code, 0, orphaning.stderr);
    const shim = await readShimPid(daemon, daemon.namespace, "orphaning");
    assert.ok(shim);
    assert.equal(await readShimPid(daemon, daemon.namespace, "keeper"), shim);
    await killAndRemove(daemon, daemon.namespace, "orphaning");
    assert.deepEqual(await settles(() => zombiesOf(shim)), []);
    assert.ok(await isAlive(shim), "the shim serves keeper still");
  } finally {
    await removeAll(daemon, [daemon.namespace]);
    await reapShimsAndRunc(daemon);
  }
  await assertNoStrays(daemon);
});
