import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { SnapshotPrepareSchema } from "../gen/containerd/events/snapshot_pb.ts";
import { Kind } from "../gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { SnapshotOptions } from "../metadata/mod.ts";
import type { SnapshotInfo } from "../snapshots/mod.ts";
import { alreadyExists, notFound } from "../types/mod.ts";
import {
  type SnapshotRecords,
  Snapshots,
  snapshotsService,
} from "./snapshots.ts";
import { RecordingPublisher, routerClient } from "./_testing.ts";

const AT = new Date(Date.UTC(2024, 2, 3, 4, 5, 6));

/** Snapshots of one backend, `overlayfs`, in a map. */
function fakeStore() {
  const infos = new Map<string, SnapshotInfo>();
  const options: SnapshotOptions[] = [];
  let swept = 0;
  const backend = (name: string) => {
    if (name !== "overlayfs") throw notFound(`snapshotter "${name}"`);
  };
  const get = (key: string) => {
    const found = infos.get(key);
    if (!found) throw notFound(`snapshot ${key}`);
    return found;
  };
  const add = (
    key: string,
    parent: string,
    kind: SnapshotInfo["kind"],
    opts: SnapshotOptions,
  ) => {
    if (infos.has(key)) throw alreadyExists(`snapshot ${key}`);
    options.push(opts);
    infos.set(key, {
      kind,
      name: key,
      parent,
      labels: opts.labels ?? {},
      createdAt: AT,
      updatedAt: AT,
    });
    return Promise.resolve([
      { type: "overlay", source: "overlay", options: [`upperdir=/${key}`] },
    ]);
  };
  const store: SnapshotRecords = {
    snapshotter: backend,
    prepare(_ns, snapshotter, key, parent, opts = {}) {
      backend(snapshotter);
      return add(key, parent, "active", opts);
    },
    view(_ns, snapshotter, key, parent, opts = {}) {
      backend(snapshotter);
      return add(key, parent, "view", opts);
    },
    mounts(_ns, _snapshotter, key) {
      get(key);
      return Promise.resolve([{
        type: "bind",
        source: `/${key}`,
        options: [],
      }]);
    },
    commit(_ns, _snapshotter, name, key, opts = {}) {
      const active = get(key);
      infos.delete(key);
      return add(name, active.parent, "committed", opts).then(() => {});
    },
    remove(_ns, _snapshotter, key) {
      get(key);
      infos.delete(key);
    },
    stat: (_ns, _snapshotter, key) => get(key),
    update(_ns, _snapshotter, update) {
      const info = get(update.name);
      info.labels = update.labels;
      return info;
    },
    list: () => [...infos.values()],
    usage(_ns, _snapshotter, key) {
      get(key);
      return Promise.resolve({ size: 8192, inodes: 3 });
    },
    sweep() {
      swept++;
      return Promise.resolve(0);
    },
  };
  return { store, infos, options, swept: () => swept };
}

function setup(lease?: string) {
  const fake = fakeStore();
  const events = new RecordingPublisher();
  const client = routerClient(
    Snapshots,
    snapshotsService({ store: fake.store, events }),
    { namespace: "ns1", lease },
  );
  return { ...fake, events, client };
}

Deno.test("Snapshots.Prepare passes labels and the request's lease, answers mounts, publishes /snapshot/prepare", async () => {
  const { options, events, client } = setup("lease-1");
  const res = await client.prepare({
    snapshotter: "overlayfs",
    key: "k1",
    parent: "p0",
    labels: { a: "b" },
  });
  assert.deepEqual(
    res.mounts.map((m) => [m.type, m.source, m.options]),
    [["overlay", "overlay", ["upperdir=/k1"]]],
  );
  assert.deepEqual(options, [{ labels: { a: "b" }, lease: "lease-1" }]);
  assert.deepEqual(events.topics(), ["ns1 /snapshot/prepare"]);
  const event = fromBinary(
    SnapshotPrepareSchema,
    events.published[0].event.value,
  );
  assert.deepEqual([event.key, event.parent], ["k1", "p0"]);
});

Deno.test("Snapshots calls without a snapshotter are InvalidArgument; an unknown one is NotFound", async () => {
  const { infos, events, client } = setup();
  await assert.rejects(client.prepare({ key: "k1" }), {
    code: Code.InvalidArgument,
    rawMessage: "snapshotter argument missing: invalid argument",
  });
  await assert.rejects(client.prepare({ snapshotter: "zfs", key: "k1" }), {
    code: Code.NotFound,
    rawMessage: 'snapshotter "zfs": not found',
  });
  await assert.rejects(client.cleanup({ snapshotter: "zfs" }), {
    code: Code.NotFound,
  });
  assert.equal(infos.size, 0);
  assert.deepEqual(events.published, []);
});

Deno.test("Snapshots.Prepare of an existing key is AlreadyExists, with no event", async () => {
  const { events, client } = setup();
  await client.prepare({ snapshotter: "overlayfs", key: "k1" });
  await assert.rejects(
    client.prepare({ snapshotter: "overlayfs", key: "k1" }),
    {
      code: Code.AlreadyExists,
      rawMessage: "snapshot k1: already exists",
    },
  );
  assert.deepEqual(events.topics(), ["ns1 /snapshot/prepare"]);
});

Deno.test("Snapshots Commit, Stat, Update, Usage and Remove map kinds, labels and sizes", async () => {
  const { events, client } = setup();
  await client.prepare({ snapshotter: "overlayfs", key: "k1", parent: "p0" });
  await client.commit({ snapshotter: "overlayfs", key: "k1", name: "n1" });
  const { info } = await client.stat({ snapshotter: "overlayfs", key: "n1" });
  assert.deepEqual(
    [info?.name, info?.parent, info?.kind],
    ["n1", "p0", Kind.COMMITTED],
  );
  assert.equal(info?.createdAt?.seconds, BigInt(AT.getTime() / 1000));
  const updated = await client.update({
    snapshotter: "overlayfs",
    info: { name: "n1", labels: { x: "y" } },
  });
  assert.deepEqual(updated.info?.labels, { x: "y" });
  await assert.rejects(client.update({ snapshotter: "overlayfs" }), {
    code: Code.InvalidArgument,
    rawMessage: "info must be set: invalid argument",
  });
  const usage = await client.usage({ snapshotter: "overlayfs", key: "n1" });
  assert.deepEqual([usage.size, usage.inodes], [8192n, 3n]);
  await client.remove({ snapshotter: "overlayfs", key: "n1" });
  await assert.rejects(client.stat({ snapshotter: "overlayfs", key: "n1" }), {
    code: Code.NotFound,
    rawMessage: "snapshot n1: not found",
  });
  assert.deepEqual(events.topics(), [
    "ns1 /snapshot/prepare",
    "ns1 /snapshot/commit",
    "ns1 /snapshot/remove",
  ]);
});

Deno.test("Snapshots.List streams infos in batches of 100; View gives a view", async () => {
  const { client } = setup();
  for (let i = 0; i < 150; i++) {
    await client.view({ snapshotter: "overlayfs", key: `v${i}` });
  }
  const batches: number[] = [];
  for await (const res of client.list({ snapshotter: "overlayfs" })) {
    batches.push(res.info.length);
    assert.ok(res.info.every((info) => info.kind === Kind.VIEW));
  }
  assert.deepEqual(batches, [100, 50]);
});

Deno.test("Snapshots.Cleanup sweeps once the snapshotter is known", async () => {
  const { swept, client } = setup();
  await client.cleanup({ snapshotter: "overlayfs" });
  assert.equal(swept(), 1);
});
