import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import type { Lease, LeaseResource } from "../metadata/mod.ts";
import { notFound } from "../types/mod.ts";
import { Leases, leasesService } from "./leases.ts";
import { routerClient } from "./_testing.ts";

/** Lease records per namespace in maps, with the store's NotFound. */
function fakeStore() {
  const leases = new Map<string, Lease & { resources: LeaseResource[] }>();
  const key = (namespace: string, id: string) => `${namespace}/${id}`;
  const get = (namespace: string, id: string) => {
    const found = leases.get(key(namespace, id));
    if (!found) throw notFound(`lease "${id}"`);
    return found;
  };
  return {
    leases,
    filters: [] as (readonly string[] | undefined)[],
    create(
      namespace: string,
      input: { id: string; labels?: Record<string, string> },
    ) {
      const lease = {
        id: input.id,
        labels: input.labels ?? {},
        createdAt: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
        resources: [],
      };
      leases.set(key(namespace, input.id), lease);
      return lease;
    },
    delete(namespace: string, id: string) {
      get(namespace, id);
      leases.delete(key(namespace, id));
    },
    list(namespace: string, filters?: readonly string[]) {
      this.filters.push(filters);
      return [...leases.entries()].filter(([k]) =>
        k.startsWith(`${namespace}/`)
      ).map(([, lease]) => lease);
    },
    addResource(namespace: string, id: string, resource: LeaseResource) {
      get(namespace, id).resources.push(resource);
    },
    deleteResource(namespace: string, id: string, resource: LeaseResource) {
      const lease = get(namespace, id);
      lease.resources = lease.resources.filter((r) => r.id !== resource.id);
    },
    listResources(namespace: string, id: string) {
      return get(namespace, id).resources;
    },
  };
}

function setup(namespace?: string) {
  const store = fakeStore();
  const collections: string[] = [];
  const runGc = () => {
    collections.push("gc");
    return Promise.resolve();
  };
  const client = routerClient(Leases, leasesService({ store, runGc }), {
    namespace,
  });
  return { store, collections, client };
}

Deno.test("Leases.Create keeps id and labels, maps createdAt, and makes an id when none is given", async () => {
  const { store, client } = setup("ns1");
  const res = await client.create({ id: "l1", labels: { k: "v" } });
  assert.equal(res.lease?.id, "l1");
  assert.deepEqual(res.lease?.labels, { k: "v" });
  assert.equal(res.lease?.createdAt?.seconds, 1704164645n);
  assert.ok(store.leases.has("ns1/l1"));
  const made = await client.create({});
  assert.match(made.lease!.id, /^\d+-[A-Za-z0-9_-]{4}$/);
});

Deno.test("Leases calls without a namespace fail as containerd's: FailedPrecondition", async () => {
  const { store, client } = setup();
  await assert.rejects(client.create({ id: "l1" }), {
    code: Code.FailedPrecondition,
    rawMessage: "namespace is required: failed precondition",
  });
  assert.equal(store.leases.size, 0);
});

Deno.test("Leases.Delete collects only when sync is asked for; a missing lease is NotFound", async () => {
  const { store, collections, client } = setup("ns1");
  store.create("ns1", { id: "a" });
  store.create("ns1", { id: "b" });
  await client.delete({ id: "a" });
  assert.deepEqual(collections, []);
  await client.delete({ id: "b", sync: true });
  assert.deepEqual(collections, ["gc"]);
  await assert.rejects(client.delete({ id: "a", sync: true }), {
    code: Code.NotFound,
    rawMessage: 'lease "a": not found',
  });
  assert.deepEqual(collections, ["gc"]);
});

Deno.test("Leases.List passes filters and sees only the caller's namespace", async () => {
  const { store, client } = setup("ns1");
  store.create("ns1", { id: "mine" });
  store.create("ns2", { id: "theirs" });
  const res = await client.list({ filters: ["id==mine"] });
  assert.deepEqual(res.leases.map((l) => l.id), ["mine"]);
  assert.deepEqual(store.filters, [["id==mine"]]);
});

Deno.test("Leases resources: add, list, delete; a missing resource is InvalidArgument", async () => {
  const { store, client } = setup("ns1");
  store.create("ns1", { id: "l" });
  await client.addResource({
    id: "l",
    resource: { id: "sha256:abc", type: "content" },
  });
  const listed = await client.listResources({ id: "l" });
  assert.deepEqual(
    listed.resources.map((r) => [r.id, r.type]),
    [["sha256:abc", "content"]],
  );
  await assert.rejects(client.addResource({ id: "l" }), {
    code: Code.InvalidArgument,
    rawMessage: "resource must be set: invalid argument",
  });
  await client.deleteResource({
    id: "l",
    resource: { id: "sha256:abc", type: "content" },
  });
  assert.deepEqual(store.leases.get("ns1/l")?.resources, []);
  await assert.rejects(client.listResources({ id: "gone" }), {
    code: Code.NotFound,
  });
});
