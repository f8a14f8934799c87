import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { StateResponseSchema } from "../gen/containerd/runtime/v2/task/shim_pb.ts";
import { Status } from "../gen/containerd/types/task/task_pb.ts";
import type { Container } from "../metadata/mod.ts";
import type { CreateTaskOptions, ExecOptions } from "../runtime/mod.ts";
import { notFound } from "../types/mod.ts";
import { type TaskRuntime, Tasks, tasksService } from "./tasks.ts";
import { routerClient } from "./_testing.ts";

const SPEC = {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: new TextEncoder().encode("{}"),
};
const EXITED = new Date(Date.UTC(2024, 6, 1, 2, 3, 4));

function container(id: string, extra: Partial<Container> = {}): Container {
  return {
    id,
    labels: { group: "g" },
    image: "",
    runtime: { name: "io.containerd.runc.v2", options: SPEC },
    spec: SPEC,
    snapshotter: "overlayfs",
    snapshotKey: `${id}-snap`,
    extensions: {},
    createdAt: EXITED,
    updatedAt: EXITED,
    ...extra,
  };
}

/** A task manager that records calls and answers from its maps. */
function fakeTasks() {
  const calls: string[] = [];
  const created: CreateTaskOptions[] = [];
  const execs: ExecOptions[] = [];
  const running = new Set<string>();
  const stats = new Map<string, Uint8Array>();
  const need = (id: string) => {
    if (!running.has(id)) throw notFound(`task ${id}`);
  };
  const state = (id: string, execId = "") =>
    create(StateResponseSchema, {
      id,
      execId,
      pid: 42,
      status: Status.STOPPED,
      stdout: "/fifo/out",
      exitStatus: 3,
      exitedAt: timestampFromDate(EXITED),
    });
  const tasks: TaskRuntime = {
    create(namespace, id, options) {
      calls.push(`create ${namespace}/${id}`);
      created.push(options);
      running.add(id);
      return Promise.resolve(100);
    },
    start(_ns, id, execId = "") {
      need(id);
      calls.push(`start ${id} ${execId}`);
      return Promise.resolve(execId ? 101 : 100);
    },
    wait(_ns, id) {
      need(id);
      return Promise.resolve({
        exitStatus: 3,
        exitedAt: timestampFromDate(EXITED),
      });
    },
    state(_ns, id, execId) {
      need(id);
      return Promise.resolve(state(id, execId));
    },
    list: () => Promise.resolve([...running].map((id) => state(id))),
    kill(_ns, id, execId, signal, all) {
      need(id);
      calls.push(`kill ${id} ${execId} ${signal} ${all}`);
      return Promise.resolve();
    },
    closeIO(_ns, id, execId, stdin) {
      calls.push(`closeIO ${id} ${execId} ${stdin}`);
      return Promise.resolve();
    },
    pids: (_ns, id) => {
      need(id);
      return Promise.resolve([]);
    },
    exec(_ns, id, execId, options) {
      need(id);
      calls.push(`exec ${id} ${execId}`);
      execs.push(options);
      return Promise.resolve();
    },
    deleteProcess(_ns, id, execId) {
      calls.push(`deleteProcess ${id} ${execId}`);
      return Promise.resolve({ pid: 101, exitStatus: 0, exitedAt: undefined });
    },
    resizePty(_ns, id, execId, width, height) {
      calls.push(`resizePty ${id} ${execId} ${width}x${height}`);
      return Promise.resolve();
    },
    update(_ns, id) {
      calls.push(`update ${id}`);
      return Promise.resolve();
    },
    stats(_ns, id) {
      const data = stats.get(id);
      if (!data) return Promise.reject(notFound(`task ${id}`));
      return Promise.resolve(
        create(AnySchema, {
          typeUrl: "io.containerd.cgroups.v1.Metrics",
          value: data,
        }),
      );
    },
    ids: () => [...running],
    pause(_ns, id) {
      calls.push(`pause ${id}`);
      return Promise.resolve();
    },
    resume(_ns, id) {
      calls.push(`resume ${id}`);
      return Promise.resolve();
    },
    delete(_ns, id) {
      need(id);
      calls.push(`delete ${id}`);
      running.delete(id);
      return Promise.resolve({
        pid: 100,
        exitStatus: 3,
        exitedAt: timestampFromDate(EXITED),
      });
    },
  };
  return { tasks, calls, created, execs, running, stats };
}

function setup(records: Container[] = [container("c1")]) {
  const fake = fakeTasks();
  const mountsAsked: string[] = [];
  const byId = new Map(records.map((c) => [c.id, c]));
  const containers = {
    get(_ns: string, id: string) {
      const found = byId.get(id);
      if (!found) throw notFound(`container "${id}"`);
      return found;
    },
    mustExist(ns: string, id: string) {
      containers.get(ns, id);
    },
    list: (_ns: string, filters: readonly string[] = []) =>
      records.filter((c) =>
        filters.length === 0 || filters.includes(`id==${c.id}`)
      ),
  };
  const snapshots = {
    mounts(ns: string, snapshotter: string, key: string) {
      mountsAsked.push(`${ns} ${snapshotter} ${key}`);
      return Promise.resolve([
        { type: "overlay", source: "overlay", options: ["lowerdir=/l"] },
      ]);
    },
  };
  const client = routerClient(
    Tasks,
    tasksService({
      tasks: fake.tasks,
      containers,
      snapshots,
      beforeCreate(ns, id) {
        fake.calls.push(`beforeCreate ${ns}/${id}`);
        return Promise.resolve();
      },
      afterDelete(ns, id) {
        fake.calls.push(`afterDelete ${ns}/${id}`);
        return Promise.resolve();
      },
    }),
    { namespace: "ns1" },
  );
  return { ...fake, mountsAsked, client };
}

Deno.test("Tasks.Create takes spec, runtime and rootfs from the container and its snapshot", async () => {
  const { calls, created, mountsAsked, client } = setup();
  const res = await client.create({
    containerId: "c1",
    stdout: "/fifo/out",
    terminal: true,
  });
  assert.deepEqual([res.containerId, res.pid], ["c1", 100]);
  assert.deepEqual(mountsAsked, ["ns1 overlayfs c1-snap"]);
  assert.deepEqual(calls, ["beforeCreate ns1/c1", "create ns1/c1"]);
  const options = created[0];
  assert.deepEqual(options.spec, SPEC);
  assert.equal(options.runtime, "io.containerd.runc.v2");
  assert.deepEqual(options.runtimeOptions, SPEC);
  assert.deepEqual(options.labels, { group: "g" });
  assert.deepEqual(
    options.rootfs.map((m) => [m.type, m.source, m.options]),
    [["overlay", "overlay", ["lowerdir=/l"]]],
  );
  assert.deepEqual(
    [options.stdin, options.stdout, options.stderr, options.terminal],
    ["", "/fifo/out", "", true],
  );
});

Deno.test("Tasks.Create with the request's own rootfs asks no snapshot", async () => {
  const { created, mountsAsked, client } = setup();
  await client.create({
    containerId: "c1",
    rootfs: [{ type: "bind", source: "/r", options: ["rbind"] }],
  });
  assert.deepEqual(mountsAsked, []);
  assert.deepEqual(created[0].rootfs.map((m) => m.source), ["/r"]);
});

Deno.test("Tasks.Create refuses a container without a spec, or a missing one, before anything runs", async () => {
  const { calls, client } = setup([container("bare", { spec: undefined })]);
  await assert.rejects(client.create({ containerId: "bare" }), {
    code: Code.FailedPrecondition,
    rawMessage: "container bare has no spec: failed precondition",
  });
  await assert.rejects(client.create({ containerId: "ghost" }), {
    code: Code.NotFound,
    rawMessage: 'container "ghost": not found',
  });
  assert.deepEqual(calls, []);
});

Deno.test("Tasks.Get maps the shim's state to a process; a missing container, then a missing task, is NotFound", async () => {
  const { running, client } = setup([container("c1"), container("idle")]);
  running.add("c1");
  const { process } = await client.get({ containerId: "c1" });
  assert.deepEqual(
    [process?.containerId, process?.id, process?.pid, process?.status],
    ["c1", "c1", 42, Status.STOPPED],
  );
  assert.equal(process?.stdout, "/fifo/out");
  assert.equal(process?.exitStatus, 3);
  assert.equal(process?.exitedAt?.seconds, BigInt(EXITED.getTime() / 1000));
  const exec = await client.get({ containerId: "c1", execId: "e1" });
  assert.equal(exec.process?.id, "e1");
  // As containerd, the container is looked up before its task.
  await assert.rejects(client.get({ containerId: "c2" }), {
    code: Code.NotFound,
    rawMessage: 'container "c2": not found',
  });
  await assert.rejects(client.get({ containerId: "idle" }), {
    code: Code.NotFound,
    rawMessage: "task idle: not found",
  });
});

Deno.test("Tasks requests missing what they need are InvalidArgument and reach no shim", async () => {
  const { calls, running, client } = setup();
  running.add("c1");
  await assert.rejects(client.deleteProcess({ containerId: "c1" }), {
    code: Code.InvalidArgument,
    rawMessage: "an exec id is required to delete a process: invalid argument",
  });
  await assert.rejects(client.exec({ containerId: "c1", spec: SPEC }), {
    code: Code.InvalidArgument,
    rawMessage: "exec id must not be empty: invalid argument",
  });
  await assert.rejects(client.exec({ containerId: "c1", execId: "e1" }), {
    code: Code.InvalidArgument,
    rawMessage: "exec e1 has no spec: invalid argument",
  });
  await assert.rejects(client.update({ containerId: "c1" }), {
    code: Code.InvalidArgument,
    rawMessage: "update of task c1: no resources: invalid argument",
  });
  await assert.rejects(client.checkpoint({ containerId: "c1" }), {
    code: Code.Unimplemented,
  });
  assert.deepEqual(calls, []);
});

Deno.test("Tasks pass ids, signals and sizes through to the task manager", async () => {
  const { calls, execs, running, client } = setup();
  running.add("c1");
  assert.equal((await client.start({ containerId: "c1" })).pid, 100);
  await client.exec({
    containerId: "c1",
    execId: "e1",
    spec: SPEC,
    stdout: "/fifo/e1",
  });
  assert.equal(execs[0].stdout, "/fifo/e1");
  assert.equal(
    (await client.start({ containerId: "c1", execId: "e1" })).pid,
    101,
  );
  await client.kill({ containerId: "c1", execId: "e1", signal: 15, all: true });
  await client.resizePty({
    containerId: "c1",
    execId: "e1",
    width: 80,
    height: 24,
  });
  await client.closeIO({ containerId: "c1", execId: "e1", stdin: true });
  await client.pause({ containerId: "c1" });
  await client.resume({ containerId: "c1" });
  const deleted = await client.deleteProcess({
    containerId: "c1",
    execId: "e1",
  });
  assert.deepEqual([deleted.id, deleted.pid], ["e1", 101]);
  assert.deepEqual(calls, [
    "start c1 ",
    "exec c1 e1",
    "start c1 e1",
    "kill c1 e1 15 true",
    "resizePty c1 e1 80x24",
    "closeIO c1 e1 true",
    "pause c1",
    "resume c1",
    "deleteProcess c1 e1",
  ]);
});

Deno.test("Tasks.Wait and Delete answer with the exit; Delete runs afterDelete", async () => {
  const { calls, running, client } = setup();
  running.add("c1");
  const waited = await client.wait({ containerId: "c1" });
  assert.equal(waited.exitStatus, 3);
  assert.equal(waited.exitedAt?.seconds, BigInt(EXITED.getTime() / 1000));
  const deleted = await client.delete({ containerId: "c1" });
  assert.deepEqual(
    [deleted.id, deleted.pid, deleted.exitStatus],
    ["c1", 100, 3],
  );
  assert.deepEqual(calls, ["delete c1", "afterDelete ns1/c1"]);
  await assert.rejects(client.delete({ containerId: "c1" }), {
    code: Code.NotFound,
  });
});

Deno.test("Tasks.Metrics: filters select containers; a task without stats is left out", async () => {
  const { running, stats, client } = setup([
    container("c1"),
    container("c2"),
    container("c3"),
  ]);
  for (const id of ["c1", "c2", "c3"]) running.add(id);
  stats.set("c1", new Uint8Array([1]));
  stats.set("c2", new Uint8Array([2]));
  const all = await client.metrics({});
  assert.deepEqual(all.metrics.map((m) => m.id), ["c1", "c2"]);
  assert.deepEqual(all.metrics[1].data?.value, new Uint8Array([2]));
  const one = await client.metrics({ filters: ["id==c2"] });
  assert.deepEqual(one.metrics.map((m) => m.id), ["c2"]);
});

Deno.test("Tasks.List gives each task's process under its container id", async () => {
  const { running, client } = setup();
  running.add("c1");
  running.add("c2");
  const listed = await client.list({});
  assert.deepEqual(listed.tasks.map((t) => [t.containerId, t.id]), [
    ["c1", "c1"],
    ["c2", "c2"],
  ]);
});
