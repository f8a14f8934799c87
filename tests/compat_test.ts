/**
 * Behaviours containerd's Go client relies on that `ctr` never exercises
 * (issue 11's daemon side), each checked as containerd 1.6 behaves.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type TaskExit,
  TaskExitSchema,
} from "../src/gen/containerd/events/task_pb.ts";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import {
  Content,
  WriteAction,
} from "../src/gen/containerd/services/content/v1/content_pb.ts";
import { Events } from "../src/gen/containerd/services/events/v1/events_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { realtimeNanos } from "../src/sys/clock.ts";
import { Namespaces } from "../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { noNamespaceClient } from "./_client.ts";
import { Client } from "../src/client/mod.ts";
import { BUSYBOX, readShimPid, withBusybox } from "./_containers.ts";
import {
  normalizeCtr,
  startContainerd,
  startDaemon,
  type TestDaemon,
} from "./_harness.ts";

/** Each open fd of process `pid` and what it points at. */
async function openFiles(pid: number): Promise<Map<number, string>> {
  const files = new Map<number, string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      files.set(
        Number(entry.name),
        await Deno.readLink(`/proc/${pid}/fd/${entry.name}`),
      );
    } catch { /* closed while we looked */ }
  }
  return files;
}

/** The sockets process `pid` holds. */
async function sockets(pid: number): Promise<Set<string>> {
  return new Set(
    [...(await openFiles(pid)).values()].filter((t) => t.startsWith("socket:")),
  );
}

Deno.test("shims and containers inherit no fd of the daemon", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const started = await ctrRun(["-d", BUSYBOX, "fds", "sleep", "60"]);
    assert.equal(started.code, 0, started.stderr);
    const shim = await readShimPid(daemon, daemon.namespace, "fds");
    assert.ok(shim, "the shim's pid is recorded");
    const daemonSockets = await sockets(daemon.process.pid);
    const shared = [...await sockets(shim)].filter((s) => daemonSockets.has(s));
    assert.deepEqual(shared, [], `shim ${shim} holds the daemon's sockets`);

    const ls = await daemon.ctr(["tasks", "ls"]);
    const pid = Number(ls.stdout.match(/^fds\s+(\d+)/m)?.[1]);
    assert.ok(pid > 0, ls.stdout);
    const files = await openFiles(pid);
    assert.deepEqual([...files.keys()].sort(), [0, 1, 2], [...files].join());
  });
});

Deno.test("a refused commit keeps its bytes under the ref, as in containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const daemons = containerd ? [berth, containerd] : [berth];
  const data = crypto.getRandomValues(new Uint8Array(4096));
  const file = `${berth.dir}/blob`;
  await Deno.writeFile(file, data);
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const ingest = (d: { ctr: TestDaemon["ctr"] }, expected: string) =>
    d.ctr([
      "content",
      "ingest",
      "--expected-size",
      "4096",
      "--expected-digest",
      expected,
      "kept",
    ], { stdin: { file } });
  const seen: string[][] = [];
  for (const daemon of daemons) {
    const bad = await ingest(daemon, `sha256:${"0".repeat(64)}`);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unexpected commit digest/);
    const active = await daemon.ctr(["content", "active"]);
    assert.match(active.stdout, /^kept\s+4\.096kB\s/m);
    const good = await ingest(daemon, digest);
    assert.equal(good.code, 0, good.stderr);
    const ls = await daemon.ctr(["content", "ls", "-q"]);
    assert.equal(ls.stdout.trim(), digest);
    seen.push([
      normalizeCtr(bad.stderr),
      normalizeCtr(active.stdout),
      (await daemon.ctr(["content", "active"])).stdout,
    ]);
  }
  if (seen.length === 2) assert.deepEqual(seen[0], seen[1]);
});

Deno.test("namespaces come into being on use, as in containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const seen: unknown[] = [];
  for (const daemon of containerd ? [berth, containerd] : [berth]) {
    const namespaces = noNamespaceClient(Namespaces, daemon.address);
    // The Go client reads a namespace's `containerd.io/defaults/*` labels
    // when it connects: a namespace never used has none, and no error.
    const got = await namespaces.get({ name: "never-seen" });
    assert.equal(got.namespace?.name, "never-seen");
    assert.deepEqual(got.namespace?.labels, {});
    // Setting a label (what `ctr namespaces label` and the Go client's
    // SetLabel send) creates it.
    const label = await daemon.ctr([
      "namespaces",
      "label",
      "fresh",
      "containerd.io/defaults/snapshotter=overlayfs",
    ]);
    assert.equal(label.code, 0, label.stderr);
    const ls = await daemon.ctr(["namespaces", "ls"]);
    seen.push([normalizeCtr(ls.stdout), normalizeCtr(label.stderr)]);
  }
  assert.deepEqual(seen[0], [
    "NAME LABELS \nfresh containerd.io/defaults/snapshotter=overlayfs",
    "",
  ]);
  if (seen.length === 2) assert.deepEqual(seen[0], seen[1]);
});

Deno.test("garbage collection runs on containerd's schedule", async (t) => {
  await using berth = await startDaemon();
  const leases = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Leases);
  const ingest = async (name: string) => {
    const file = `${berth.dir}/${name}`;
    const data = new TextEncoder().encode(`${name} ${crypto.randomUUID()}`);
    await Deno.writeFile(file, data);
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const r = await berth.ctr([
      "content",
      "ingest",
      "--expected-size",
      String(data.length),
      "--expected-digest",
      digest,
      name,
    ], { stdin: { file } });
    assert.equal(r.code, 0, r.stderr);
    return digest;
  };
  const listed = async () =>
    (await berth.ctr(["content", "ls", "-q"])).stdout.trim().split("\n")
      .filter(Boolean);

  await t.step("what a client writes is there for it to read", async () => {
    // Nothing is due right after start: the start-up collection is over
    // before the daemon serves, and no deletion or threshold asks for one.
    for (let i = 0; i < 10; i++) {
      const digest = await ingest(`fresh-${i}`);
      const got = await berth.ctr(["content", "get", digest]);
      assert.equal(got.code, 0, got.stderr);
    }
  });

  await t.step(
    "mutation_threshold mutations make the next check collect",
    async () => {
      const loose = await ingest("loose");
      for (let i = 0; i < 100; i++) await leases.create({ id: `m-${i}` });
      const deadline = Date.now() + 15_000;
      while ((await listed()).includes(loose)) {
        assert.ok(Date.now() < deadline, "no collection after 100 mutations");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  );

  await t.step("a sync delete collects before it answers", async () => {
    const loose = await ingest("loose-2");
    await leases.create({ id: "trigger" });
    await leases.delete({ id: "trigger", sync: true });
    assert.ok(!(await listed()).includes(loose));
  });
});

Deno.test("timestamps keep nanoseconds, as containerd's do", async () => {
  await using berth = await startDaemon();
  const client = new Client({
    address: berth.address,
    namespace: berth.namespace,
  });
  const leases = client.service(Leases);
  const content = client.service(Content);
  const images = client.service(Images);
  const containers = client.service(Containers);
  const snapshots = client.service(Snapshots);
  const events = client.service(Events);
  await leases.create({ id: "hold" });
  const held = client.with({ lease: "hold" }).service(Content);
  const times: [string, Timestamp | undefined][] = [];
  const before = realtimeNanos();

  const subscription = events.subscribe({ filters: ['topic=="/leases/x"'] });
  const first = subscription[Symbol.asyncIterator]().next();
  // Events flow once the subscription is in place: publish until one comes.
  let envelope;
  for (let i = 0; !envelope; i++) {
    await events.publish({
      topic: "/leases/x",
      event: {
        typeUrl: "containerd.events.ContainerDelete",
        value: new Uint8Array(),
      },
    });
    envelope = await Promise.race([
      first.then((r) => r.value),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
    ]);
    assert.ok(i < 100, "no event came");
  }
  times.push(["event", envelope.timestamp]);

  times.push(["lease", (await leases.create({ id: "t" })).lease?.createdAt]);
  const data = new TextEncoder().encode(`stamped ${crypto.randomUUID()}`);
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  for await (
    const _ of held.write((async function* () {
      yield {
        action: WriteAction.WRITE,
        ref: "partial",
        data: data.subarray(0, 3),
      };
    })())
  ) { /* drain */ }
  const status = (await content.status({ ref: "partial" })).status;
  times.push(["ingest started", status?.startedAt]);
  times.push(["ingest updated", status?.updatedAt]);
  for await (
    const _ of held.write((async function* () {
      yield {
        action: WriteAction.COMMIT,
        ref: "whole",
        total: BigInt(data.length),
        expected: digest,
        data,
      };
    })())
  ) { /* drain */ }
  const info = (await content.info({ digest })).info;
  times.push(["content created", info?.createdAt]);
  times.push(["content updated", info?.updatedAt]);
  const image = (await images.create({
    image: {
      name: "stamped:1",
      target: {
        mediaType: "application/octet-stream",
        digest,
        size: BigInt(data.length),
      },
    },
  })).image;
  times.push(["image created", image?.createdAt]);
  const gotImage = (await images.get({ name: "stamped:1" })).image;
  times.push(["image read back", gotImage?.createdAt]);
  const container = (await containers.create({
    container: {
      id: "stamped",
      runtime: { name: "io.containerd.runc.v2" },
      spec: {
        typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
        value: new TextEncoder().encode("{}"),
      },
    },
  })).container;
  times.push(["container created", container?.createdAt]);
  times.push([
    "container read back",
    (await containers.get({ id: "stamped" })).container?.updatedAt,
  ]);
  await snapshots.prepare({ snapshotter: "native", key: "stamped" });
  const snapshot =
    (await snapshots.stat({ snapshotter: "native", key: "stamped" }))
      .info;
  times.push(["snapshot created", snapshot?.createdAt]);
  const after = realtimeNanos();

  for (const [what, time] of times) {
    assert.ok(time, `${what} has a time`);
    const nanos = time.seconds * 1_000_000_000n + BigInt(time.nanos);
    assert.ok(
      before <= nanos && nanos <= after,
      `${what}: ${nanos} not in [${before}, ${after}]`,
    );
    // Milliseconds would leave these digits zero (1 in 10^6 odds otherwise).
    assert.notEqual(time.nanos % 1_000_000, 0, `${what} has nanoseconds`);
  }
  // Read back, a time is the one given at creation.
  assert.deepEqual(gotImage?.createdAt, image?.createdAt);
  assert.deepEqual(
    (await containers.get({ id: "stamped" })).container?.createdAt,
    container?.createdAt,
  );
});

Deno.test("task exit times keep nanoseconds, as containerd's shim's do", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const events = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Events);
    const controller = new AbortController();
    const exits: { envelope: Timestamp | undefined; exit: TaskExit }[] = [];
    const subscribed = (async () => {
      for await (
        const e of events.subscribe({ filters: ['topic=="/tasks/exit"'] }, {
          signal: controller.signal,
        })
      ) {
        exits.push({
          envelope: e.timestamp,
          exit: fromBinary(TaskExitSchema, e.event!.value),
        });
      }
    })().catch(() => {});
    // Runs until an exit is seen: the subscription may start late.
    for (let i = 0; exits.length === 0; i++) {
      assert.ok(i < 20, "no /tasks/exit came");
      const r = await ctrRun(["--rm", BUSYBOX, `stamp-${i}`, "true"]);
      assert.equal(r.code, 0, r.stderr);
      for (let j = 0; j < 20 && exits.length === 0; j++) {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    controller.abort();
    await subscribed;
    const { envelope, exit } = exits[0];
    for (
      const [what, time] of [["exited_at", exit.exitedAt], [
        "envelope",
        envelope,
      ]] as const
    ) {
      assert.ok(time, what);
      // Milliseconds would leave these digits zero (1 in 10^6 odds otherwise).
      assert.notEqual(time.nanos % 1_000_000, 0, `${what} has nanoseconds`);
    }
  });
});
