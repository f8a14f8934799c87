import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ContainerCreateSchema } from "../gen/containerd/events/container_pb.ts";
import type { Container, ContainerInput } from "../metadata/mod.ts";
import { alreadyExists, notFound } from "../types/mod.ts";
import { Containers, containersService } from "./containers.ts";
import { RecordingPublisher, routerClient } from "./_testing.ts";

const CREATED = new Date(Date.UTC(2024, 4, 6, 7, 8, 9));

/** Container records in a map; what the adapter passed in is kept. */
function fakeStore() {
  const records = new Map<string, Container>();
  const inputs: ContainerInput[] = [];
  const masks: (readonly string[] | undefined)[] = [];
  const get = (namespace: string, id: string) => {
    const found = records.get(`${namespace}/${id}`);
    if (!found) throw notFound(`container "${id}"`);
    return found;
  };
  const store = {
    records,
    inputs,
    masks,
    get,
    list: (namespace: string) =>
      [...records.entries()].filter(([k]) => k.startsWith(`${namespace}/`))
        .map(([, c]) => c),
    create(namespace: string, input: ContainerInput): Container {
      inputs.push(input);
      if (records.has(`${namespace}/${input.id}`)) {
        throw alreadyExists(`container "${input.id}"`);
      }
      const container: Container = {
        labels: {},
        image: "",
        runtime: { name: "" },
        snapshotter: "",
        snapshotKey: "",
        extensions: {},
        ...input,
        createdAt: CREATED,
        updatedAt: CREATED,
      };
      records.set(`${namespace}/${input.id}`, container);
      return container;
    },
    update(
      namespace: string,
      input: ContainerInput,
      paths?: readonly string[],
    ) {
      masks.push(paths);
      const container = { ...get(namespace, input.id), labels: input.labels! };
      records.set(`${namespace}/${input.id}`, container);
      return container;
    },
    delete(namespace: string, id: string) {
      get(namespace, id);
      records.delete(`${namespace}/${id}`);
    },
  };
  return store;
}

function setup() {
  const store = fakeStore();
  const reads: string[] = [];
  const get = store.get;
  store.get = (namespace: string, id: string) => {
    reads.push(`${namespace}/${id}`);
    return get(namespace, id);
  };
  const events = new RecordingPublisher();
  const deleted: string[] = [];
  const service = containersService({
    store,
    events,
    onDeleted(namespace, id) {
      // Runs before the delete event is published.
      deleted.push(`${namespace}/${id} after ${events.published.length}`);
      return Promise.resolve();
    },
  });
  const client = routerClient(Containers, service, { namespace: "ns1" });
  const other = routerClient(Containers, service, { namespace: "ns2" });
  return { store, events, deleted, client, other, reads };
}

const SPEC = {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: new TextEncoder().encode('{"ociVersion":"1.1.0"}'),
};

Deno.test("Containers.Create maps every field both ways and publishes /containers/create", async () => {
  const { store, events, client } = setup();
  const res = await client.create({
    container: {
      id: "c1",
      labels: { l: "v" },
      image: "docker.io/library/busybox:latest",
      runtime: { name: "io.containerd.runc.v2", options: SPEC },
      spec: SPEC,
      snapshotter: "overlayfs",
      snapshotKey: "c1-snap",
      extensions: { ext: SPEC },
    },
  });
  const input = store.inputs[0];
  assert.equal(input.id, "c1");
  assert.equal(input.runtime?.name, "io.containerd.runc.v2");
  assert.deepEqual(input.spec, SPEC);
  assert.deepEqual(input.runtime?.options, SPEC);
  assert.deepEqual(input.extensions, { ext: SPEC });
  const c = res.container!;
  assert.deepEqual(
    [c.id, c.image, c.snapshotter, c.snapshotKey, c.labels],
    ["c1", "docker.io/library/busybox:latest", "overlayfs", "c1-snap", {
      l: "v",
    }],
  );
  assert.equal(c.spec?.typeUrl, SPEC.typeUrl);
  assert.deepEqual(c.spec?.value, SPEC.value);
  assert.equal(c.extensions.ext.typeUrl, SPEC.typeUrl);
  assert.equal(c.createdAt?.seconds, BigInt(CREATED.getTime() / 1000));
  assert.deepEqual(events.topics(), ["ns1 /containers/create"]);
  const event = fromBinary(
    ContainerCreateSchema,
    events.published[0].event.value,
  );
  assert.deepEqual(
    [event.id, event.image, event.runtime?.name],
    ["c1", "docker.io/library/busybox:latest", "io.containerd.runc.v2"],
  );
});

Deno.test("Containers.Create of an existing id is AlreadyExists naming it, with no event", async () => {
  const { events, client } = setup();
  await client.create({ container: { id: "c1" } });
  await assert.rejects(client.create({ container: { id: "c1" } }), {
    code: Code.AlreadyExists,
    rawMessage: 'container "c1": already exists',
  });
  assert.deepEqual(events.topics(), ["ns1 /containers/create"]);
});

Deno.test("Containers.Update without an id answers as containerd does; with one it passes the mask", async () => {
  const { store, events, client } = setup();
  await assert.rejects(client.update({ container: { labels: { a: "b" } } }), {
    code: Code.InvalidArgument,
    rawMessage: "Container.ID required",
  });
  assert.deepEqual(store.masks, []);
  await client.create({ container: { id: "c1" } });
  const res = await client.update({
    container: { id: "c1", labels: { a: "b" } },
    updateMask: { paths: ["labels"] },
  });
  assert.deepEqual(res.container?.labels, { a: "b" });
  assert.deepEqual(store.masks, [["labels"]]);
  assert.deepEqual(events.topics(), [
    "ns1 /containers/create",
    "ns1 /containers/update",
  ]);
});

Deno.test("Containers.Delete releases what the container owned before publishing; a missing one is NotFound", async () => {
  const { events, deleted, client } = setup();
  await client.create({ container: { id: "c1" } });
  await client.delete({ id: "c1" });
  assert.deepEqual(deleted, ["ns1/c1 after 1"]);
  assert.deepEqual(events.topics(), [
    "ns1 /containers/create",
    "ns1 /containers/delete",
  ]);
  await assert.rejects(client.delete({ id: "c1" }), {
    code: Code.NotFound,
    rawMessage: 'container "c1": not found',
  });
  assert.equal(deleted.length, 1);
});

Deno.test("Containers.List and ListStream give the caller's namespace's records", async () => {
  const { store, client } = setup();
  store.create("ns1", { id: "a" });
  store.create("ns1", { id: "b" });
  store.create("ns2", { id: "other" });
  const listed = await client.list({});
  assert.deepEqual(listed.containers.map((c) => c.id), ["a", "b"]);
  const streamed: string[] = [];
  for await (const msg of client.listStream({})) {
    streamed.push(msg.container!.id);
  }
  assert.deepEqual(streamed, ["a", "b"]);
});

Deno.test("Containers.Get reads a record once and answers again from what it kept, until the container is updated", async () => {
  const { client, reads } = setup();
  await client.create({ container: { id: "c1", spec: SPEC } });
  const first = await client.get({ id: "c1" });
  const again = await client.get({ id: "c1" });
  assert.deepEqual(again, first);
  assert.deepEqual(reads, ["ns1/c1"]);
  await client.update({
    container: { id: "c1", labels: { a: "b" } },
    updateMask: { paths: ["labels"] },
  });
  assert.deepEqual((await client.get({ id: "c1" })).container?.labels, {
    a: "b",
  });
  assert.deepEqual(reads, ["ns1/c1", "ns1/c1"]);
});

Deno.test("Containers.Get of a deleted container is NotFound, and a new one of its id is answered for", async () => {
  const { client } = setup();
  await client.create({ container: { id: "c1", image: "old" } });
  assert.equal((await client.get({ id: "c1" })).container?.image, "old");
  await client.delete({ id: "c1" });
  await assert.rejects(client.get({ id: "c1" }), {
    code: Code.NotFound,
    rawMessage: 'container "c1": not found',
  });
  await client.create({ container: { id: "c1", image: "new" } });
  assert.equal((await client.get({ id: "c1" })).container?.image, "new");
});

Deno.test("Containers.Get answers each namespace's container of an id with its own record", async () => {
  const { client, other } = setup();
  await client.create({ container: { id: "c1", image: "in ns1" } });
  await other.create({ container: { id: "c1", image: "in ns2" } });
  assert.equal((await client.get({ id: "c1" })).container?.image, "in ns1");
  assert.equal((await other.get({ id: "c1" })).container?.image, "in ns2");
  await other.update({
    container: { id: "c1", labels: { ns: "2" } },
    updateMask: { paths: ["labels"] },
  });
  assert.deepEqual((await client.get({ id: "c1" })).container?.labels, {});
  assert.deepEqual((await other.get({ id: "c1" })).container?.labels, {
    ns: "2",
  });
  await other.delete({ id: "c1" });
  assert.equal((await client.get({ id: "c1" })).container?.image, "in ns1");
});
