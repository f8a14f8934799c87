/**
 * Behaviours containerd's Go client relies on that `ctr` never exercises
 * (issue 11's daemon side), each checked as containerd 1.6 behaves.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Namespaces } from "../src/gen/containerd/services/namespaces/v1/namespace_pb.ts";
import { apiClient } from "./_client.ts";
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
    const shim = await readShimPid(daemon, "default", "fds");
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
  await using containerd = await startContainerd();
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
  await using containerd = await startContainerd();
  const seen: unknown[] = [];
  for (const daemon of containerd ? [berth, containerd] : [berth]) {
    const namespaces = apiClient(Namespaces, { address: daemon.address });
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
  const leases = apiClient(Leases, {
    address: berth.address,
    namespace: "default",
  });
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
