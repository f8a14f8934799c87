import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { NamespaceCreateSchema } from "../gen/containerd/events/namespace_pb.ts";
import type { Namespace } from "../metadata/mod.ts";
import { notFound } from "../types/mod.ts";
import { Namespaces, namespacesService } from "./namespaces.ts";
import { RecordingPublisher, routerClient } from "./_testing.ts";

/** A namespace store in a map, with the store's NotFound. */
function fakeStore() {
  const records = new Map<string, Namespace>();
  const get = (name: string) => {
    const found = records.get(name);
    if (!found) throw notFound(`namespace "${name}"`);
    return found;
  };
  return {
    records,
    updates: [] as (readonly string[] | undefined)[],
    get,
    list: () => [...records.values()],
    create(ns: Namespace) {
      records.set(ns.name, { name: ns.name, labels: { ...ns.labels } });
      return get(ns.name);
    },
    update(ns: Namespace, paths?: readonly string[]) {
      this.updates.push(paths);
      get(ns.name).labels = { ...ns.labels };
      return get(ns.name);
    },
    delete(name: string) {
      get(name);
      records.delete(name);
    },
  };
}

function setup() {
  const store = fakeStore();
  const events = new RecordingPublisher();
  const client = routerClient(Namespaces, namespacesService({ store, events }));
  return { store, events, client };
}

Deno.test("Namespaces.Create stores name and labels and publishes /namespaces/create", async () => {
  const { store, events, client } = setup();
  const res = await client.create({
    namespace: { name: "team", labels: { a: "1" } },
  });
  assert.deepEqual(res.namespace?.labels, { a: "1" });
  assert.deepEqual(store.records.get("team"), {
    name: "team",
    labels: { a: "1" },
  });
  assert.deepEqual(events.topics(), ["team /namespaces/create"]);
  const payload = events.published[0].event;
  assert.equal(payload.typeUrl, "containerd.events.NamespaceCreate");
  const decoded = fromBinary(NamespaceCreateSchema, payload.value);
  assert.equal(decoded.name, "team");
  assert.deepEqual(decoded.labels, { a: "1" });
});

Deno.test("Namespaces.Create without a namespace is InvalidArgument and changes nothing", async () => {
  const { store, events, client } = setup();
  await assert.rejects(client.create({}), {
    code: Code.InvalidArgument,
    rawMessage: "namespace must be set: invalid argument",
  });
  assert.equal(store.records.size, 0);
  assert.deepEqual(events.published, []);
});

Deno.test("Namespaces.Update passes the field mask and publishes /namespaces/update", async () => {
  const { store, events, client } = setup();
  store.create({ name: "team", labels: {} });
  const res = await client.update({
    namespace: { name: "team", labels: { b: "2" } },
    updateMask: { paths: ["labels.b"] },
  });
  assert.deepEqual(res.namespace?.labels, { b: "2" });
  assert.deepEqual(store.updates, [["labels.b"]]);
  assert.deepEqual(events.topics(), ["team /namespaces/update"]);
});

Deno.test("Namespaces Get/Delete of a missing namespace is NotFound naming it, and publishes nothing", async () => {
  const { events, client } = setup();
  await assert.rejects(client.get({ name: "nope" }), {
    code: Code.NotFound,
    rawMessage: 'namespace "nope": not found',
  });
  await assert.rejects(client.delete({ name: "nope" }), {
    code: Code.NotFound,
    rawMessage: 'namespace "nope": not found',
  });
  assert.deepEqual(events.published, []);
});

Deno.test("Namespaces.List and Delete map the store's records", async () => {
  const { store, events, client } = setup();
  store.create({ name: "a", labels: { x: "y" } });
  store.create({ name: "b", labels: {} });
  const listed = await client.list({});
  assert.deepEqual(
    listed.namespaces.map((n) => [n.name, n.labels]),
    [["a", { x: "y" }], ["b", {}]],
  );
  await client.delete({ name: "a" });
  assert.deepEqual([...store.records.keys()], ["b"]);
  assert.deepEqual(events.topics(), ["a /namespaces/delete"]);
});
