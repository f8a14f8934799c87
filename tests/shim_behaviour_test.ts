/**
 * The shim behaves as containerd's runc shim does where clients depend on
 * it: task events in order, exec terminals from the request, a host-PID
 * container's processes killed with its init, `shim_cgroup`, the v1 runtime
 * name and containerd's wording of runc's errors.
 */
import assert from "node:assert/strict";
import { create, fromBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { dirname, join } from "node:path";
import {
  closeSync,
  constants as fsConstants,
  openSync,
  writeSync,
} from "node:fs";
import {
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskStartSchema,
} from "../src/gen/containerd/events/task_pb.ts";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { RuncOptionsSchema } from "../src/gen/containerd/runtime/linux/runctypes/runc_pb.ts";
import { Tasks } from "../src/gen/containerd/services/tasks/v1/tasks_pb.ts";
import { Status } from "../src/gen/containerd/types/task/task_pb.ts";
import { OptionsSchema } from "../src/gen/containerd/runc/options/oci_pb.ts";
import {
  bundlesDir,
  BUSYBOX as IMAGE,
  fifoDir,
  isAlive,
  readShimPid,
  taskStatuses,
  withBusybox,
} from "./_containers.ts";
import { collect, run, type TestDaemon } from "./_harness.ts";
import {
  Client,
  ClientError,
  Code,
  type EventEnvelope,
} from "../src/client/mod.ts";

/** Runs `fn` on each of `items`, `width` at a time. */
async function eachWide<T>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Subscribes to `/tasks/*` events of the daemon's namespace through the API. */
function subscribeTasks(daemon: TestDaemon) {
  const abort = new AbortController();
  const events: EventEnvelope[] = [];
  const stream = new Client({ address: daemon.address, signal: abort.signal })
    .subscribe([`namespace=="${daemon.namespace}",topic~="^/tasks/"`]);
  const iterator = stream[Symbol.asyncIterator]();
  const reading = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      events.push(next.value);
    }
  })().catch(() => {});
  return {
    events,
    async [Symbol.asyncDispose]() {
      abort.abort();
      await reading;
    },
  };
}

Deno.test("/tasks/exit is published after the process's start, however fast it exits", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    await using sub = subscribeTasks(daemon);
    // Containers run until the subscription has seen one whole.
    for (let i = 0; !sub.events.some((e) => e.topic === "/tasks/delete"); i++) {
      // A subscription that never delivers fails the test, not hangs it.
      assert.ok(i < 100, "the subscription saw no /tasks/delete in 100 runs");
      const warm = await ctrRun(["--rm", IMAGE, `warm${i}`, "true"]);
      assert.equal(warm.code, 0, warm.stderr);
    }
    const COUNT = 200;
    const ids = Array.from({ length: COUNT }, (_, i) => `c${i}`);
    await eachWide(ids, 6, async (id) => {
      const out = await ctrRun(["--rm", IMAGE, id, "true"]);
      assert.equal(out.code, 0, `${id}: ${out.stderr}`);
    });
    const box = await ctrRun(["-d", IMAGE, "order-box", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const execIds = Array.from({ length: COUNT }, (_, i) => `e${i}`);
    // One at a time: concurrent `runc exec`s on cgroup v1 can see each
    // other's freezer and refuse ("cannot exec in a paused container").
    await eachWide(execIds, 1, async (execId) => {
      const out = await daemon.ctr([
        "tasks",
        "exec",
        "--fifo-dir",
        fifoDir(daemon),
        "--exec-id",
        execId,
        "order-box",
        "true",
      ]);
      assert.equal(out.code, 0, `${execId}: ${out.stderr}`);
    });
    // Every exit has been published once each process's Wait answered;
    // the last exec's exit is the last one to arrive.
    const exitOf = (e: EventEnvelope) =>
      e.topic === "/tasks/exit" && e.event
        ? fromBinary(TaskExitSchema, e.event.value)
        : undefined;
    for (
      let i = 0;
      !sub.events.some((e) => exitOf(e)?.id === execIds.at(-1));
      i++
    ) {
      assert.ok(i < 3000, "the last exec's /tasks/exit never arrived");
      await new Promise((r) => setTimeout(r, 20));
    }
    const order: string[] = [];
    for (const e of sub.events) {
      if (!e.event) continue;
      if (e.topic === "/tasks/start") {
        order.push(
          `start ${fromBinary(TaskStartSchema, e.event.value).containerId}`,
        );
      } else if (e.topic === "/tasks/exec-started") {
        order.push(
          `start ${fromBinary(TaskExecStartedSchema, e.event.value).execId}`,
        );
      } else if (e.topic === "/tasks/exit") {
        order.push(`exit ${exitOf(e)!.id}`);
      }
    }
    const wrong = [...ids, ...execIds].filter((id) => {
      const start = order.indexOf(`start ${id}`);
      const exit = order.indexOf(`exit ${id}`);
      return start < 0 || exit < 0 || exit < start;
    });
    assert.deepEqual(wrong, [], "exit before start (or missing) for these");
  });
});

/** What process `execId` in `box` prints on its stdout FIFO, with `terminal`. */
async function execOutput(
  daemon: TestDaemon,
  execId: string,
  process: Record<string, unknown>,
  terminal: boolean,
): Promise<string> {
  const tasks = new Client({
    address: daemon.address,
    namespace: daemon.namespace,
  }).service(Tasks);
  const stdout = join(fifoDir(daemon), `${execId}-stdout`);
  const made = await run("mkfifo", [stdout]);
  assert.equal(made.code, 0, made.stderr);
  const reading = Deno.open(stdout, { read: true }).then((f) =>
    new Response(f.readable).text()
  );
  await tasks.exec({
    containerId: "box",
    execId,
    stdout,
    terminal,
    spec: {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: new TextEncoder().encode(JSON.stringify(process)),
    },
  });
  const waited = tasks.wait({ containerId: "box", execId });
  await tasks.start({ containerId: "box", execId });
  assert.equal((await waited).exitStatus, 0);
  await tasks.deleteProcess({ containerId: "box", execId });
  return (await reading).replaceAll("\r\n", "\n");
}

Deno.test("an exec's terminal comes from the request, not its process spec", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const box = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const base = { cwd: "/", user: { uid: 0, gid: 0 }, env: ["PATH=/bin"] };
    const withTty = await execOutput(daemon, "tty", {
      ...base,
      args: ["sh", "-c", "tty; echo done"],
      terminal: false,
    }, true);
    assert.match(withTty, /^\/dev\/pts\/\d+\ndone\n$/);
    const without = await execOutput(daemon, "notty", {
      ...base,
      args: ["sh", "-c", "tty; echo done"],
      terminal: true,
    }, false);
    assert.equal(without, "not a tty\ndone\n");
  });
});

Deno.test("init's exit kills the rest of a container that shares the host's PIDs", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const out = join(daemon.dir, "out");
    await Deno.mkdir(out);
    const started = await ctrRun([
      "-d",
      "--with-ns",
      "pid:/proc/self/ns/pid",
      "--mount",
      `type=bind,src=${out},dst=/out,options=rbind:rw`,
      IMAGE,
      "hostpid",
      "sh",
      "-c",
      // The second one holds 512 MiB, so its death takes a while: init
      // exits once dd has filled most of it.
      "sleep 600 & echo $! > /out/pid; " +
      "dd if=/dev/zero of=/dev/null bs=512M count=1000000 & d=$!; " +
      "echo $d > /out/dd; " +
      "until grep -q 'VmRSS:.*[0-9]\\{6\\} kB' /proc/$d/status; do :; done",
    ]);
    assert.equal(started.code, 0, started.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const waited = await tasks.wait({ containerId: "hostpid" });
    assert.equal(waited.exitStatus, 0);
    // Reported exited: the rest is gone already.
    for (const name of ["pid", "dd"]) {
      const pid = Number((await Deno.readTextFile(join(out, name))).trim());
      assert.ok(pid > 1);
      assert.equal(await isAlive(pid), false, `${name} ${pid} outlived init`);
    }
  });
});

/**
 * Makes cgroups `names` in every v1 hierarchy for `fn`, and removes them
 * after it.
 */
async function withCgroups(
  names: string[],
  fn: () => Promise<void>,
): Promise<void> {
  const hierarchies: string[] = [];
  for await (const entry of Deno.readDir("/sys/fs/cgroup")) {
    if (entry.isDirectory && entry.name !== "unified") {
      hierarchies.push(join("/sys/fs/cgroup", entry.name));
    }
  }
  try {
    for (const h of hierarchies) {
      for (const name of names) {
        await Deno.mkdir(join(h, name));
        // A new cpuset cgroup has no CPUs or memory nodes until given some.
        for (const file of ["cpuset.cpus", "cpuset.mems"]) {
          const parent = await Deno.readTextFile(join(h, file)).catch(() => "");
          if (parent) await Deno.writeTextFile(join(h, name, file), parent);
        }
      }
    }
    await fn();
  } finally {
    for (const h of hierarchies) {
      for (const name of names) {
        await Deno.remove(join(h, name)).catch(() => {});
      }
    }
  }
}

/** Asserts that process `pid` is in cgroup `path` in every v1 hierarchy. */
async function assertInCgroup(pid: number, path: string): Promise<void> {
  const cgroups = await Deno.readTextFile(`/proc/${pid}/cgroup`);
  for (const line of cgroups.trim().split("\n")) {
    const [, controllers, at] = line.split(":");
    if (!controllers) continue; // the hybrid host's v2 line
    assert.equal(at, path, `${pid} ${controllers}: ${cgroups}`);
  }
}

Deno.test("the shim joins the runc options' shim_cgroup when it starts: another shim_cgroup gets another shim, except in a named group", async () => {
  const [a, b] = ["a", "b"].map((x) =>
    `berth-shimcg-${x}-${crypto.randomUUID().slice(0, 8)}`
  );
  await withCgroups([a, b], async () => {
    await withBusybox(async (daemon) => {
      const tasks = new Client({
        address: daemon.address,
        namespace: daemon.namespace,
      })
        .service(Tasks);
      /** Creates task `id` asking for shim cgroup `cgroup`; its shim's pid. */
      const createIn = async (id: string, cgroup: string, label?: string) => {
        const made = await daemon.ctr([
          "containers",
          "create",
          ...(label ? ["--label", label] : []),
          IMAGE,
          id,
          "sleep",
          "600",
        ]);
        assert.equal(made.code, 0, made.stderr);
        await tasks.create({
          containerId: id,
          options: anyPack(
            OptionsSchema,
            create(OptionsSchema, { shimCgroup: `/${cgroup}` }),
          ),
        });
        const pid = await readShimPid(daemon, daemon.namespace, id);
        assert.ok(pid);
        return pid;
      };
      // Grouped by namespace (berth's default): a shim per shim cgroup.
      const inA = await createIn("cg-a", a);
      const inB = await createIn("cg-b", b);
      const inA2 = await createIn("cg-a2", a);
      assert.notEqual(inB, inA);
      assert.equal(inA2, inA);
      await assertInCgroup(inA, `/${a}`);
      await assertInCgroup(inB, `/${b}`);
      // A named group has one shim, which stays where its first container
      // put it, as containerd's does.
      const group = "io.containerd.runc.v2.group=shimcg";
      const first = await createIn("grp-1", b, group);
      const second = await createIn("grp-2", a, group);
      assert.equal(second, first);
      await assertInCgroup(first, `/${b}`);
    });
  });
});

Deno.test("io.containerd.runtime.v1.linux runs with its RuncOptions' runtime and root", async () => {
  await withBusybox(async (daemon) => {
    const made = await daemon.ctr([
      "containers",
      "create",
      IMAGE,
      "tmpl",
      "echo",
      "hi",
    ]);
    assert.equal(made.code, 0, made.stderr);
    const containers = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Containers);
    const { container: tmpl } = await containers.get({ id: "tmpl" });
    const calls = join(daemon.dir, "runc-calls");
    const wrapper = join(daemon.dir, "runc-wrapper");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\necho "$@" >> ${calls}\nexec runc "$@"\n`,
      { mode: 0o755 },
    );
    const runcRoot = join(daemon.dir, "v1-root");
    const { $typeName: _, ...fields } = tmpl!;
    await containers.create({
      container: {
        ...fields,
        id: "v1",
        runtime: {
          name: "io.containerd.runtime.v1.linux",
          options: anyPack(
            RuncOptionsSchema,
            create(RuncOptionsSchema, {
              runtime: wrapper,
              runtimeRoot: runcRoot,
            }),
          ),
        },
      },
    });
    // tmpl's snapshot serves v1; tmpl itself never runs.
    const started = await daemon.ctr([
      "tasks",
      "start",
      "--fifo-dir",
      fifoDir(daemon),
      "v1",
    ]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, "hi\n");
    const log = await Deno.readTextFile(calls);
    assert.match(
      log,
      new RegExp(`--root ${runcRoot}/${daemon.namespace} .*create`),
    );
    await containers.delete({ id: "v1" });
  });
});

Deno.test("runc's errors reach the client worded as containerd words them, once", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const created = await ctrRun(["--rm", IMAGE, "noexec", "/nonexistent"]);
    assert.notEqual(created.code, 0);
    assert.match(
      created.stderr,
      /^ctr: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "\/nonexistent": stat \/nonexistent: no such file or directory: unknown$/m,
    );
    // Not also copied from the container's stderr.
    const output = created.stdout + created.stderr;
    assert.equal(output.split("no such file").length - 1, 1, output);
    const box = await ctrRun(["-d", IMAGE, "box", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const exec = await daemon.ctr([
      "tasks",
      "exec",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "bad",
      "box",
      "/nonexistent",
    ]);
    assert.notEqual(exec.code, 0);
    assert.match(
      exec.stderr,
      /^ctr: OCI runtime exec failed: exec failed: unable to start container process: exec: "\/nonexistent": stat \/nonexistent: no such file or directory: unknown$/m,
    );
    const both = exec.stdout + exec.stderr;
    assert.equal(both.split("no such file").length - 1, 1, both);
    // A start runc refuses: with its exec FIFO gone, runc takes the created
    // container for a running one. containerd 1.6 answers the same way.
    const made = await daemon.ctr([
      "containers",
      "create",
      IMAGE,
      "nostart",
      "true",
    ]);
    assert.equal(made.code, 0, made.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    })
      .service(Tasks);
    await tasks.create({ containerId: "nostart" });
    await Deno.remove(
      join(daemon.state, "runc", daemon.namespace, "nostart", "exec.fifo"),
    );
    await assert.rejects(tasks.start({ containerId: "nostart" }), (err) => {
      assert.ok(err instanceof ClientError, String(err));
      assert.equal(err.code, Code.Unknown);
      assert.equal(
        err.message,
        "OCI runtime start failed: cannot start an already running container: unknown",
      );
      return true;
    });
    // As containerd's shim leaves it: created (runc init still waits), not
    // to be deleted until it is killed.
    assert.equal(
      (await taskStatuses(daemon)).get("nostart"),
      "CREATED",
    );
    const refused = await daemon.ctr(["tasks", "rm", "nostart"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^ctr: task must be stopped before deletion: created: failed precondition$/m,
    );
    const forced = await daemon.ctr(["tasks", "rm", "-f", "nostart"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await taskStatuses(daemon)).has("nostart"), false);
  });
});

Deno.test("output waiting for absent readers does not stop the shim serving new containers", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    })
      .service(Tasks);
    // More containers than Deno has blocking threads (about 32): each one's
    // output waits in its FIFO for a reader that never opened it.
    const ids = Array.from({ length: 40 }, (_, i) => `held${i}`);
    const stdoutOf = (id: string) => join(fifoDir(daemon), `${id}-stdout`);
    await eachWide(ids, 4, async (id) => {
      const made = await daemon.ctr([
        "containers",
        "create",
        IMAGE,
        id,
        "echo",
        id,
      ]);
      assert.equal(made.code, 0, made.stderr);
      const fifo = await run("mkfifo", [stdoutOf(id)]);
      assert.equal(fifo.code, 0, fifo.stderr);
      await tasks.create({ containerId: id, stdout: stdoutOf(id) });
      const waited = tasks.wait({ containerId: id });
      await tasks.start({ containerId: id });
      assert.equal((await waited).exitStatus, 0);
    });
    const shims = new Set(
      await Promise.all(
        ids.map((id) => readShimPid(daemon, daemon.namespace, id)),
      ),
    );
    assert.equal(shims.size, 1, "one shim serves them all");
    // That shim still serves new containers.
    const detached = await ctrRun(["-d", IMAGE, "after-held", "sleep", "600"]);
    assert.equal(detached.code, 0, detached.stderr);
    assert.deepEqual(
      [await readShimPid(daemon, daemon.namespace, "after-held")],
      [...shims],
    );
    const served = await ctrRun(["--rm", IMAGE, "after-held2", "echo", "ok"]);
    assert.equal(served.code, 0, served.stderr);
    assert.equal(served.stdout, "ok\n");
    // The output is still there for a reader that comes now, then its end.
    for (const id of ids.slice(0, 3)) {
      const cat = await run("cat", [stdoutOf(id)]);
      assert.equal(cat.stdout, `${id}\n`);
    }
  });
});

/** Where the fds 0-2 of `pid` lead. */
async function stdioLinks(pid: number): Promise<string[]> {
  return await Promise.all(
    [0, 1, 2].map((fd) => Deno.readLink(`/proc/${pid}/fd/${fd}`)),
  );
}

Deno.test("container processes get pipes from the shim, never the client's FIFOs", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const box = await ctrRun(["-d", IMAGE, "fifos", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const exec = await daemon.ctr([
      "tasks",
      "exec",
      "--detach",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "e1",
      "fifos",
      "sleep",
      "601",
    ]);
    assert.equal(exec.code, 0, exec.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const { processes } = await tasks.listPids({ containerId: "fifos" });
    assert.equal(processes.length, 2);
    for (const { pid } of processes) {
      const links = await stdioLinks(pid);
      for (const link of links.slice(1)) {
        assert.match(link, /^pipe:/, `${pid}: ${links}`);
      }
      assert.ok(
        !links.some((l) => l.startsWith(fifoDir(daemon))),
        `${pid}: ${links}`,
      );
    }
  });
});

Deno.test("output waits in the FIFO for a client that went away and came back", async () => {
  await withBusybox(async (daemon) => {
    const made = await daemon.ctr([
      "containers",
      "create",
      IMAGE,
      "reopen",
      "--",
      "sh",
      "-c",
      "echo first; read x; echo second; echo marker >&2; read x; echo third",
    ]);
    assert.equal(made.code, 0, made.stderr);
    const [stdin, stdout, stderr] = ["stdin", "stdout", "stderr"].map((s) =>
      join(fifoDir(daemon), `reopen-${s}`)
    );
    for (const fifo of [stdin, stdout, stderr]) {
      const r = await run("mkfifo", [fifo]);
      assert.equal(r.code, 0, r.stderr);
    }
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    await tasks.create({ containerId: "reopen", stdin, stdout, stderr });
    const waited = tasks.wait({ containerId: "reopen" });
    await tasks.start({ containerId: "reopen" });
    const errors = collect(
      (await Deno.open(stderr, { read: true })).readable,
    );
    const input = await Deno.open(stdin, { write: true });
    const readUntil = async (reader: Deno.FsFile, text: string) => {
      const buffer = new Uint8Array(4096);
      let got = "";
      while (!got.includes(text)) {
        const n = await reader.read(buffer);
        if (n === null) break;
        got += new TextDecoder().decode(buffer.subarray(0, n));
      }
      return got;
    };
    const first = await Deno.open(stdout, { read: true });
    assert.equal(await readUntil(first, "first\n"), "first\n");
    first.close();
    // Nobody reads stdout while "second" is written: it waits in the FIFO.
    await input.write(new TextEncoder().encode("go\n"));
    await errors.waitFor(/marker/);
    using again = await Deno.open(stdout, { read: true });
    assert.equal(await readUntil(again, "second\n"), "second\n");
    await input.write(new TextEncoder().encode("go\n"));
    assert.equal(await readUntil(again, "third\n"), "third\n");
    input.close();
    assert.equal((await waited).exitStatus, 0);
    await tasks.delete({ containerId: "reopen" });
  });
});

Deno.test("stdin does not end at writers that come and go before the client's data", async () => {
  await withBusybox(async (daemon) => {
    const made = await daemon.ctr(["containers", "create", IMAGE, "in", "cat"]);
    assert.equal(made.code, 0, made.stderr);
    const [stdin, stdout] = ["stdin", "stdout"].map((s) =>
      join(fifoDir(daemon), `in-${s}`)
    );
    for (const fifo of [stdin, stdout]) {
      const r = await run("mkfifo", [fifo]);
      assert.equal(r.code, 0, r.stderr);
    }
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    await tasks.create({ containerId: "in", stdin, stdout });
    const output = collect((await Deno.open(stdout, { read: true })).readable);
    const waited = tasks.wait({ containerId: "in" });
    await tasks.start({ containerId: "in" });
    // Writers that come and go without writing, as a client's open that a
    // signal interrupts (and the kernel retries) leaves the FIFO a moment
    // without a writer; each is followed by a round trip through the shim.
    // (Non-blocking opens: one fails, ENXIO, if the shim left the FIFO.)
    const writeOnly = fsConstants.O_WRONLY | fsConstants.O_NONBLOCK;
    for (let i = 0; i < 3; i++) {
      closeSync(openSync(stdin, writeOnly));
      const { process } = await tasks.get({ containerId: "in" });
      assert.equal(process?.status, Status.RUNNING);
    }
    // The client's writer: its data reaches cat, its close ends cat's stdin.
    const writer = openSync(stdin, writeOnly);
    writeSync(writer, "data\n");
    closeSync(writer);
    assert.equal((await waited).exitStatus, 0);
    await output.waitFor(/data\n/);
    assert.equal(output.text, "data\n");
    await tasks.delete({ containerId: "in" });
  });
});

Deno.test("an exec's FIFOs are open for the client from its Exec on: early input and CloseIO reach it at Start; an exec deleted unstarted lets them go", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const box = await ctrRun(["-d", IMAGE, "early-fifos", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const tasks = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Tasks);
    const fifos = async (execId: string) => {
      const [stdin, stdout] = ["stdin", "stdout"].map((s) =>
        join(fifoDir(daemon), `${execId}-${s}`)
      );
      for (const fifo of [stdin, stdout]) {
        const r = await run("mkfifo", [fifo]);
        assert.equal(r.code, 0, r.stderr);
      }
      return { stdin, stdout };
    };
    const spec = {
      typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process",
      value: new TextEncoder().encode(JSON.stringify({
        args: ["cat"],
        cwd: "/",
        user: { uid: 0, gid: 0 },
        env: ["PATH=/bin"],
      })),
    };
    const cat = await fifos("cat");
    await tasks.exec({
      containerId: "early-fifos",
      execId: "cat",
      spec,
      ...cat,
    });
    // Before Start, the shim reads stdin already: a writer that does not
    // wait opens (without a reader it would fail, ENXIO).
    const writer = openSync(
      cat.stdin,
      fsConstants.O_WRONLY | fsConstants.O_NONBLOCK,
    );
    writeSync(writer, "early\n");
    closeSync(writer);
    // and holds stdout: this open does not wait for Start either.
    const output = new Response(
      (await Deno.open(cat.stdout, { read: true })).readable,
    ).text();
    // The client has no more input before the process even started.
    await tasks.closeIO({
      containerId: "early-fifos",
      execId: "cat",
      stdin: true,
    });
    const waited = tasks.wait({ containerId: "early-fifos", execId: "cat" });
    await tasks.start({ containerId: "early-fifos", execId: "cat" });
    assert.equal((await waited).exitStatus, 0);
    assert.equal(await output, "early\n");
    await tasks.deleteProcess({ containerId: "early-fifos", execId: "cat" });
    // An exec deleted without a Start: its stdout reader sees the end.
    const never = await fifos("never");
    await tasks.exec({
      containerId: "early-fifos",
      execId: "never",
      spec,
      ...never,
    });
    const unread = new Response(
      (await Deno.open(never.stdout, { read: true })).readable,
    ).text();
    await tasks.deleteProcess({ containerId: "early-fifos", execId: "never" });
    assert.equal(await unread, "");
  });
});

Deno.test("shim sockets are 0600 in a 0700 directory; the daemon's are 0660, root's; bundles have containerd's modes", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const box = await ctrRun(["-d", IMAGE, "sock", "sleep", "600"]);
    assert.equal(box.code, 0, box.stderr);
    const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;
    const bundle = join(bundlesDir(daemon), daemon.namespace, "sock");
    // As containerd's bundles: 0711 above, 0700 itself (its rootfs/ has
    // the image's root's mode once mounted).
    assert.equal((await mode(bundlesDir(daemon))).toString(8), "711");
    assert.equal((await mode(dirname(bundle))).toString(8), "711");
    assert.equal((await mode(bundle)).toString(8), "700");
    const address = (await Deno.readTextFile(join(bundle, "address")))
      .trim().replace(/^unix:\/\//, "");
    assert.equal((await mode(address)).toString(8), "600", address);
    if (dirname(address) !== bundle) {
      assert.equal((await mode(dirname(address))).toString(8), "700");
    }
    for (const socket of [daemon.address, `${daemon.address}.ttrpc`]) {
      const info = await Deno.stat(socket);
      assert.equal((info.mode! & 0o777).toString(8), "660", socket);
      assert.equal(info.uid, 0);
      assert.equal(info.gid, 0);
    }
    // Nobody but root may replace what is in the daemon's socket directory.
    const dir = await Deno.stat(dirname(daemon.address));
    assert.equal(dir.uid, 0);
    assert.equal(dir.mode! & 0o022, 0, (dir.mode! & 0o777).toString(8));
  });
});

Deno.test("shims run runc with one Go processor, its pid files in a tmpfs of the shim's that no mount table shows", async () => {
  // A runc on PATH that says how it was run, then runs the real one.
  const bin = await Deno.makeTempDir({ prefix: "berth-runc-" });
  const calls = join(bin, "calls");
  const real = (await run("sh", ["-c", "command -v runc"])).stdout.trim();
  await Deno.writeTextFile(
    join(bin, "runc"),
    `#!/bin/sh\necho "GOMAXPROCS=$GOMAXPROCS $*" >> ${calls}\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
  try {
    await withBusybox(async (daemon, ctrRun) => {
      const started = await ctrRun(["-d", IMAGE, "pids", "sleep", "600"]);
      assert.equal(started.code, 0, started.stderr);
      const exec = await daemon.ctr(
        ["tasks", "exec", "--fifo-dir", fifoDir(daemon)].concat(
          ["--exec-id", "e", "pids", "true"],
        ),
      );
      assert.equal(exec.code, 0, exec.stderr);
      const shim = await readShimPid(daemon, daemon.namespace, "pids");
      const lines = (await Deno.readTextFile(calls)).trim().split("\n");
      const launches = lines.filter((l) => / (create|exec) /.test(l));
      assert.equal(launches.length, 2, lines.join("\n"));
      let dir = "";
      for (const line of launches) {
        const m = new RegExp(
          `^GOMAXPROCS=1 .* --pid-file (/proc/${shim}/fd/\\d+)/runc-\\d+\\.pid `,
        ).exec(line);
        assert.ok(m, line);
        dir = m[1];
      }
      // Each pid file is gone once read; the tmpfs is in no mount table,
      // and none of them went to the bundle.
      assert.deepEqual([...Deno.readDirSync(dir)], []);
      const dev = Deno.statSync(dir).dev;
      const device = `${(dev >> 8) & 0xfff}:${
        (dev & 0xff) | ((dev >> 12) & 0xfff00)
      }`;
      const mountinfo = Deno.readTextFileSync(`/proc/${shim}/mountinfo`);
      assert.ok(!mountinfo.split("\n").some((l) => l.split(" ")[2] === device));
      const bundle = join(bundlesDir(daemon), daemon.namespace, "pids");
      const files = [...Deno.readDirSync(bundle)].map((e) => e.name);
      assert.deepEqual(files.filter((f) => f.endsWith(".pid")), ["shim.pid"]);
    }, { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } });
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("shims run runc from the daemon's sealed copy while runc stays as copied, else from its file", async () => {
  // A runc on PATH that says from where it was run, then runs the real one.
  const bin = await Deno.makeTempDir({ prefix: "berth-runc-" });
  const calls = join(bin, "calls");
  const wrapper = join(bin, "runc");
  const real = (await run("sh", ["-c", "command -v runc"])).stdout.trim();
  const script = (tag: string) =>
    `#!/bin/sh\necho "${tag} $0" >> ${calls}\nexec ${real} "$@"\n`;
  await Deno.writeTextFile(wrapper, script("first"), { mode: 0o755 });
  const ran = async () =>
    (await Deno.readTextFile(calls)).trim().split("\n").map((l) =>
      l.split(" ")
    );
  try {
    await withBusybox(async (daemon, ctrRun) => {
      const started = await ctrRun(["-d", IMAGE, "sealed", "sleep", "600"]);
      assert.equal(started.code, 0, started.stderr);
      const shim = await readShimPid(daemon, daemon.namespace, "sealed");
      const exec = () =>
        daemon.ctr(["tasks", "exec", "--exec-id", "e", "sealed", "true"]);
      assert.equal((await exec()).code, 0);
      for (const [tag, program] of await ran()) {
        assert.equal(tag, "first");
        assert.match(program, new RegExp(`^/proc/${shim}/fd/\\d+$`));
      }
      // Replaced: the copy is no longer what runc is; its file runs.
      await Deno.writeTextFile(wrapper, script("second"));
      assert.equal((await exec()).code, 0);
      assert.deepEqual((await ran()).at(-1), ["second", wrapper]);
    }, { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } });
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
