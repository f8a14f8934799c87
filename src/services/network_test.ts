import assert from "node:assert/strict";
import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  InterfaceCreateSchema,
  InterfaceDeleteSchema,
  InterfaceUpdateSchema,
  NetnsCreateSchema,
  NetnsUpdateSchema,
  NetworkAttachSchema,
  NetworkDetachSchema,
} from "../gen/berth/events/network_pb.ts";
import type { AttachInput, NetworkConfig } from "../cni/mod.ts";
import type { AttachmentRecord } from "../metadata/mod.ts";
import type {
  CreateInterfaceOptions,
  Interface,
  UpdateInterfaceOptions,
} from "../netlink/mod.ts";
import type { NetworkNamespace } from "../netns/mod.ts";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "../types/mod.ts";
import {
  Network,
  networkService,
  type NetworkServiceOptions,
  publishNetworkChange,
} from "./network.ts";
import type { InterfaceLinks } from "./_interfaces.ts";
import {
  type RecordedEvent,
  RecordingPublisher,
  routerClient,
} from "./_testing.ts";

const AT = new Date(Date.UTC(2024, 1, 2, 3, 4, 5));
const AT_SECONDS = BigInt(AT.getTime() / 1000);

function netnsRecord(
  namespace: string,
  name: string,
  extra: Partial<NetworkNamespace> = {},
): NetworkNamespace {
  return {
    name,
    path: `/run/netns/${namespace}/${name}`,
    owner: "",
    labels: {},
    createdAt: AT,
    updatedAt: AT,
    status: "ready",
    resolvConfPath: `/etc/netns/${namespace}/${name}/resolv.conf`,
    hostsPath: `/etc/netns/${namespace}/${name}/hosts`,
    ...extra,
  };
}

/** Network namespaces per tenant in a map, with the store's errors. */
function fakeNetns() {
  const records = new Map<string, NetworkNamespace>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const calls: string[] = [];
  const netns: NetworkServiceOptions["netns"] = {
    create(namespace, input) {
      if (records.has(key(namespace, input.name))) {
        throw alreadyExists(`network namespace ${JSON.stringify(input.name)}`);
      }
      const record = netnsRecord(namespace, input.name, {
        labels: input.labels ?? {},
        owner: input.owner ?? "",
      });
      records.set(key(namespace, input.name), record);
      return record;
    },
    get(namespace, name) {
      const found = records.get(key(namespace, name));
      if (!found) throw notFound(`network namespace ${JSON.stringify(name)}`);
      return found;
    },
    list(namespace, filters) {
      calls.push(`list ${filters?.join(",")}`);
      return [...records.values()].filter((r) =>
        r.path.startsWith(`/run/netns/${namespace}/`)
      );
    },
    updateLabels(namespace, name, labels, paths) {
      calls.push(`updateLabels ${paths.join(",")}`);
      const updated = { ...this.get(namespace, name), labels };
      records.set(key(namespace, name), updated);
      return updated;
    },
  };
  return { records, calls, netns };
}

function attachmentRecord(
  id: string,
  extra: Partial<AttachmentRecord> = {},
): AttachmentRecord {
  return {
    id,
    network: "bridge0",
    netns: "n1",
    netnsPath: "/run/netns/ns1/n1",
    ifname: "eth0",
    containerId: "",
    portMappings: [],
    result: JSON.stringify({ ips: [{ address: "10.4.0.2/24" }] }),
    parked: false,
    labels: {},
    args: {},
    createdAt: AT,
    ...extra,
  };
}

const BRIDGE0: NetworkConfig = {
  name: "bridge0",
  cniVersion: "1.0.0",
  plugins: [
    { type: "bridge" },
    { type: "portmap", capabilities: { portMappings: true } },
    { type: "tuning", capabilities: { mac: false } },
  ],
  source: "/etc/cni/net.d/10-bridge0.conflist",
  bytes: '{"name":"bridge0"}',
};

/** Attachments in a map; CNI calls are logged, errors set by the test. */
function fakeAttachments() {
  const records = new Map<string, AttachmentRecord>();
  const calls: string[] = [];
  const inputs: AttachInput[] = [];
  const need = (id: string) => {
    const found = records.get(id);
    if (!found) throw notFound(`attachment ${JSON.stringify(id)}`);
    return found;
  };
  const fake = { records, calls, inputs, cniFailure: undefined as unknown };
  const attachments: NetworkServiceOptions["attachments"] = {
    networks(filters) {
      calls.push(`networks ${filters?.join(",")}`);
      return [BRIDGE0];
    },
    list(namespace, filters) {
      calls.push(`list ${namespace} ${filters?.join(",")}`);
      return [...records.values()];
    },
    attach(namespace, input) {
      calls.push(`attach ${namespace}`);
      inputs.push(input);
      const record = attachmentRecord("a1", {
        network: input.network,
        netns: input.netns,
        ifname: input.ifname,
        containerId: input.containerId,
        portMappings: input.portMappings,
        labels: input.labels,
        args: input.args,
      });
      records.set(record.id, record);
      return Promise.resolve(record);
    },
    check(namespace, id) {
      need(id);
      calls.push(`check ${namespace} ${id}`);
      return fake.cniFailure
        ? Promise.reject(fake.cniFailure)
        : Promise.resolve();
    },
    detach(namespace, id) {
      need(id);
      calls.push(`detach ${namespace} ${id}`);
      records.delete(id);
      return Promise.resolve();
    },
    deleteNetns(namespace, name, force) {
      calls.push(`deleteNetns ${namespace} ${name} ${force}`);
      return fake.cniFailure
        ? Promise.reject(fake.cniFailure)
        : Promise.resolve();
    },
  };
  return { fake, attachments };
}

function link(name: string, extra: Partial<Interface> = {}): Interface {
  return {
    index: 7,
    name,
    kind: "veth",
    mtu: 1500,
    mac: "02:42:ac:11:00:02",
    up: true,
    flags: ["BROADCAST", "UP"],
    operState: "UP",
    master: "br0",
    parentIndex: 8,
    vlanId: 0,
    mode: "",
    addresses: [{ address: "10.4.0.2/24", family: 4, scope: "global" }],
    routes: [{
      destination: "default",
      gateway: "10.4.0.1",
      source: "10.4.0.2",
      family: 4,
      scope: "global",
      protocol: "static",
      metric: 100,
    }],
    ...extra,
  };
}

/** The options of a CreateInterface request that sets no optional field. */
const NO_OPTIONS = {
  peer: undefined,
  peerNetns: undefined,
  parent: undefined,
  vlanId: undefined,
  mode: undefined,
  mtu: undefined,
  mac: undefined,
};

/** The options of an UpdateInterface request that changes nothing. */
const NO_CHANGE: UpdateInterfaceOptions = {
  up: undefined,
  mtu: undefined,
  mac: undefined,
  rename: undefined,
  master: undefined,
  moveTo: undefined,
  addAddresses: [],
  delAddresses: [],
  addRoutes: [],
  delRoutes: [],
};

/** Netlink calls recorded with the netns path they were made in. */
function fakeLinks() {
  const calls: {
    op: string;
    netns: string | undefined;
    name?: string;
    options?: CreateInterfaceOptions | UpdateInterfaceOptions;
  }[] = [];
  const fake = {
    calls,
    listed: [link("lo", { kind: "", flags: ["LOOPBACK", "UP"] }), link("eth0")],
    failure: undefined as unknown,
  };
  const fail = () => {
    if (fake.failure) throw fake.failure;
  };
  const links: InterfaceLinks = {
    listNetnsInterfaces(netns) {
      calls.push({ op: "list", netns });
      return fake.listed;
    },
    createInterface(netns, options) {
      fail();
      calls.push({ op: "create", netns, options });
      return link(options.name, { kind: options.kind });
    },
    updateInterface(netns, name, options) {
      fail();
      calls.push({ op: "update", netns, name, options });
      return link(options.rename ?? name);
    },
    deleteInterface(netns, name) {
      fail();
      calls.push({ op: "delete", netns, name });
    },
  };
  return { fake, links };
}

function setup(namespace?: string) {
  const netns = fakeNetns();
  const attachments = fakeAttachments();
  const links = fakeLinks();
  const events = new RecordingPublisher();
  const client = routerClient(
    Network,
    networkService({
      netns: netns.netns,
      attachments: attachments.attachments,
      links: links.links,
      events,
    }),
    { namespace },
  );
  return {
    netns,
    attachments: attachments.fake,
    links: links.fake,
    events,
    client,
  };
}

function payload<Desc extends DescMessage>(
  schema: Desc,
  recorded: RecordedEvent,
) {
  assert.equal(recorded.event.typeUrl, schema.typeName);
  return fromBinary(schema, recorded.event.value);
}

// ------------------------------------------------------ network namespaces

Deno.test("Network.CreateNamespace passes name, labels and owner, answers the record and publishes /netns/create", async () => {
  const { netns, events, client } = setup("ns1");
  const res = await client.createNamespace({
    namespace: { name: "n1", labels: { k: "v" }, owner: "c1" },
  });
  assert.equal(res.namespace?.name, "n1");
  assert.equal(res.namespace?.path, "/run/netns/ns1/n1");
  assert.deepEqual(res.namespace?.labels, { k: "v" });
  assert.equal(res.namespace?.owner, "c1");
  assert.equal(res.namespace?.status, "ready");
  assert.equal(res.namespace?.resolvConfPath, "/etc/netns/ns1/n1/resolv.conf");
  assert.equal(res.namespace?.hostsPath, "/etc/netns/ns1/n1/hosts");
  assert.equal(res.namespace?.createdAt?.seconds, AT_SECONDS);
  assert.equal(res.namespace?.updatedAt?.seconds, AT_SECONDS);
  assert.ok(netns.records.has("ns1/n1"));
  assert.deepEqual(events.topics(), ["ns1 /netns/create"]);
  const event = payload(NetnsCreateSchema, events.published[0]);
  assert.equal(event.name, "n1");
  assert.equal(event.path, "/run/netns/ns1/n1");
  assert.deepEqual(event.labels, { k: "v" });
});

Deno.test("Network.CreateNamespace refuses a missing namespace header or message, and a taken name, publishing nothing", async () => {
  const none = setup();
  await assert.rejects(
    none.client.createNamespace({ namespace: { name: "n1" } }),
    {
      code: Code.FailedPrecondition,
      rawMessage: "namespace is required: failed precondition",
    },
  );
  assert.equal(none.netns.records.size, 0);
  const { events, client } = setup("ns1");
  await assert.rejects(client.createNamespace({}), {
    code: Code.InvalidArgument,
    rawMessage: "namespace must be set: invalid argument",
  });
  await client.createNamespace({ namespace: { name: "n1" } });
  await assert.rejects(client.createNamespace({ namespace: { name: "n1" } }), {
    code: Code.AlreadyExists,
    rawMessage: 'network namespace "n1": already exists',
  });
  assert.deepEqual([...none.events.topics(), ...events.topics()], [
    "ns1 /netns/create",
  ]);
});

Deno.test("Network.GetNamespace and ListNamespaces see the caller's tenant only; a missing one is NotFound", async () => {
  const { netns, client } = setup("ns1");
  netns.netns.create("ns1", { name: "mine" });
  netns.netns.create("ns2", { name: "theirs" });
  const got = await client.getNamespace({ name: "mine" });
  assert.equal(got.namespace?.path, "/run/netns/ns1/mine");
  await assert.rejects(client.getNamespace({ name: "theirs" }), {
    code: Code.NotFound,
    rawMessage: 'network namespace "theirs": not found',
  });
  const listed = await client.listNamespaces({ filters: ["labels.k==v"] });
  assert.deepEqual(listed.namespaces.map((n) => n.name), ["mine"]);
  assert.deepEqual(netns.calls, ["list labels.k==v"]);
});

Deno.test("Network.UpdateNamespace passes the labels and the mask's paths and publishes /netns/update", async () => {
  const { netns, events, client } = setup("ns1");
  netns.netns.create("ns1", { name: "n1", labels: { old: "1" } });
  const res = await client.updateNamespace({
    namespace: { name: "n1", labels: { k: "v" } },
    updateMask: { paths: ["labels.k"] },
  });
  assert.deepEqual(res.namespace?.labels, { k: "v" });
  assert.deepEqual(netns.calls, ["updateLabels labels.k"]);
  assert.deepEqual(events.topics(), ["ns1 /netns/update"]);
  const event = payload(NetnsUpdateSchema, events.published[0]);
  assert.equal(event.name, "n1");
  assert.deepEqual(event.labels, { k: "v" });
  await assert.rejects(client.updateNamespace({}), {
    code: Code.InvalidArgument,
    rawMessage: "namespace must be set: invalid argument",
  });
  await assert.rejects(
    client.updateNamespace({ namespace: { name: "gone" } }),
    { code: Code.NotFound },
  );
  assert.equal(events.published.length, 1);
});

Deno.test("Network.DeleteNamespace goes through the attachments with force; their FailedPrecondition comes through", async () => {
  const { attachments, client } = setup("ns1");
  await client.deleteNamespace({ name: "n1", force: true });
  const inUse = failedPrecondition(
    'network namespace "n2" is in use by attachments a1 (stop them, detach, or force)',
  );
  attachments.cniFailure = inUse;
  await assert.rejects(client.deleteNamespace({ name: "n2" }), {
    code: Code.FailedPrecondition,
    rawMessage: inUse.message,
  });
  assert.deepEqual(attachments.calls, [
    "deleteNetns ns1 n1 true",
    "deleteNetns ns1 n2 false",
  ]);
});

// --------------------------------------------------- networks, attachments

Deno.test("Network.ListNetworks maps each network's plugins, source, config and capabilities", async () => {
  const { attachments, client } = setup("ns1");
  const res = await client.listNetworks({ filters: ["name==bridge0"] });
  assert.deepEqual(attachments.calls, ["networks name==bridge0"]);
  assert.equal(res.networks.length, 1);
  const [network] = res.networks;
  assert.equal(network.name, "bridge0");
  assert.equal(network.cniVersion, "1.0.0");
  assert.deepEqual(network.plugins, ["bridge", "portmap", "tuning"]);
  assert.equal(network.source, "/etc/cni/net.d/10-bridge0.conflist");
  assert.equal(network.config, '{"name":"bridge0"}');
  assert.deepEqual(network.capabilities, ["portMappings"]);
});

Deno.test("Network.Attach maps the request to the manager and the record back, with its IPs and state", async () => {
  const { attachments, client } = setup("ns1");
  const res = await client.attach({
    network: "bridge0",
    netns: "n1",
    interface: "eth1",
    containerId: "c1",
    portMappings: [{
      hostPort: 8080,
      containerPort: 80,
      protocol: "tcp",
      hostIp: "127.0.0.1",
    }],
    labels: { k: "v" },
    args: { IgnoreUnknown: "1" },
  });
  assert.deepEqual(attachments.calls, ["attach ns1"]);
  assert.deepEqual(attachments.inputs, [{
    network: "bridge0",
    netns: "n1",
    ifname: "eth1",
    containerId: "c1",
    portMappings: [{
      hostPort: 8080,
      containerPort: 80,
      protocol: "tcp",
      hostIP: "127.0.0.1",
    }],
    labels: { k: "v" },
    args: { IgnoreUnknown: "1" },
  }]);
  const a = res.attachment!;
  assert.equal(a.id, "a1");
  assert.equal(a.network, "bridge0");
  assert.equal(a.netns, "n1");
  assert.equal(a.netnsPath, "/run/netns/ns1/n1");
  assert.equal(a.interface, "eth1");
  assert.equal(a.containerId, "c1");
  assert.deepEqual(
    a.portMappings.map((p) => [
      p.hostPort,
      p.containerPort,
      p.protocol,
      p.hostIp,
    ]),
    [[8080, 80, "tcp", "127.0.0.1"]],
  );
  assert.deepEqual(a.ips, ["10.4.0.2/24"]);
  assert.equal(a.state, "attached");
  assert.deepEqual(a.labels, { k: "v" });
  assert.deepEqual(a.args, { IgnoreUnknown: "1" });
  assert.equal(a.createdAt?.seconds, AT_SECONDS);
});

Deno.test("Network.ListAttachments passes filters; a parked attachment has no result and says so", async () => {
  const { attachments, client } = setup("ns1");
  attachments.records.set(
    "p1",
    attachmentRecord("p1", { parked: true, result: undefined }),
  );
  const res = await client.listAttachments({ filters: ["network==bridge0"] });
  assert.deepEqual(attachments.calls, ["list ns1 network==bridge0"]);
  assert.deepEqual(
    res.attachments.map((a) => [a.id, a.state, a.result, a.ips]),
    [["p1", "parked", "", []]],
  );
});

Deno.test("Network.Check and Detach pass the id; NotFound and the manager's codes come through", async () => {
  const { attachments, client } = setup("ns1");
  attachments.records.set("a1", attachmentRecord("a1"));
  await client.check({ id: "a1" });
  const parked = failedPrecondition(
    'attachment "a1" is parked until its container\'s next task',
  );
  attachments.cniFailure = parked;
  await assert.rejects(client.check({ id: "a1" }), {
    code: Code.FailedPrecondition,
    rawMessage: parked.message,
  });
  await client.detach({ id: "a1" });
  await assert.rejects(client.detach({ id: "a1" }), {
    code: Code.NotFound,
    rawMessage: 'attachment "a1": not found',
  });
  assert.deepEqual(attachments.calls, [
    "check ns1 a1",
    "check ns1 a1",
    "detach ns1 a1",
  ]);
});

Deno.test("publishNetworkChange publishes the manager's own attaches and detaches as the service's events", () => {
  const events = new RecordingPublisher();
  const publish = publishNetworkChange(events);
  const attachment = attachmentRecord("a1", { containerId: "c1" });
  publish("ns1", {
    topic: "/network/attach",
    attachment,
    ips: ["10.4.0.2/24"],
  });
  publish("ns1", { topic: "/network/detach", attachment });
  assert.deepEqual(events.topics(), [
    "ns1 /network/attach",
    "ns1 /network/detach",
  ]);
  const attached = payload(NetworkAttachSchema, events.published[0]);
  assert.equal(attached.id, "a1");
  assert.equal(attached.network, "bridge0");
  assert.equal(attached.netnsPath, "/run/netns/ns1/n1");
  assert.equal(attached.interface, "eth0");
  assert.equal(attached.containerId, "c1");
  assert.deepEqual(attached.ips, ["10.4.0.2/24"]);
  const detached = payload(NetworkDetachSchema, events.published[1]);
  assert.deepEqual(
    [detached.id, detached.network, detached.containerId],
    ["a1", "bridge0", "c1"],
  );
});

// ---------------------------------------------------------------- interfaces

Deno.test("Network.ListInterfaces finds the netns by berth name, path or host, and maps each interface", async () => {
  const { netns, links, client } = setup("ns1");
  netns.netns.create("ns1", { name: "n1" });
  const all = await client.listInterfaces({ netns: "n1" });
  await client.listInterfaces({ netns: "/proc/1/ns/net" });
  await client.listInterfaces({ netns: "host" });
  await client.listInterfaces({});
  assert.deepEqual(links.calls.map((c) => c.netns), [
    "/run/netns/ns1/n1",
    "/proc/1/ns/net",
    undefined,
    undefined,
  ]);
  assert.deepEqual(
    all.interfaces.map((i) => [i.name, i.type]),
    [["lo", "loopback"], ["eth0", "veth"]],
  );
  const eth0 = all.interfaces[1];
  assert.equal(eth0.index, 7);
  assert.equal(eth0.mtu, 1500);
  assert.equal(eth0.mac, "02:42:ac:11:00:02");
  assert.equal(eth0.up, true);
  assert.equal(eth0.operState, "up");
  assert.equal(eth0.master, "br0");
  assert.equal(eth0.linkIndex, 8);
  assert.deepEqual(
    eth0.addresses.map((a) => [a.cidr, a.scope]),
    [["10.4.0.2/24", "global"]],
  );
  assert.deepEqual(
    eth0.routes.map((r) => [
      r.destination,
      r.gateway,
      r.device,
      r.metric,
      r.scope,
      r.source,
    ]),
    [["default", "10.4.0.1", "eth0", 100, "global", "10.4.0.2"]],
  );
  links.listed = [link("dummy0", { kind: "", flags: ["BROADCAST"] })];
  const device = await client.listInterfaces({ name: "dummy0" });
  assert.deepEqual(device.interfaces.map((i) => i.type), ["device"]);
});

Deno.test("Network.ListInterfaces: a relative path is InvalidArgument; a missing netns or interface NotFound", async () => {
  const { links, client } = setup("ns1");
  await assert.rejects(client.listInterfaces({ netns: "run/netns/x" }), {
    code: Code.InvalidArgument,
    rawMessage: 'netns path "run/netns/x": not absolute: invalid argument',
  });
  await assert.rejects(client.listInterfaces({ netns: "gone" }), {
    code: Code.NotFound,
    rawMessage: 'network namespace "gone": not found',
  });
  assert.equal(links.calls.length, 0);
  await assert.rejects(client.listInterfaces({ name: "eth9" }), {
    code: Code.NotFound,
    rawMessage: 'interface "eth9": not found',
  });
});

Deno.test("Network.CreateInterface maps the request, resolves both netns and publishes /interfaces/create", async () => {
  const { netns, links, events, client } = setup("ns1");
  netns.netns.create("ns1", { name: "n1" });
  const res = await client.createInterface({
    netns: "n1",
    name: "veth0",
    type: "veth",
    peerName: "veth1",
    peerNetns: "host",
    mtu: 1400,
    mac: "02:00:00:00:00:01",
    vlanId: 7,
  });
  assert.equal(res.interface?.name, "veth0");
  assert.equal(res.interface?.type, "veth");
  await client.createInterface({
    name: "v10",
    type: "vlan",
    parent: "eth0",
    vlanId: 10,
    peerNetns: "/proc/1/ns/net",
  });
  await client.createInterface({
    netns: "/proc/2/ns/net",
    name: "mv0",
    type: "macvlan",
    parent: "eth0",
    mode: "bridge",
  });
  assert.deepEqual(links.calls, [
    {
      op: "create",
      netns: "/run/netns/ns1/n1",
      options: {
        ...NO_OPTIONS,
        name: "veth0",
        kind: "veth",
        peer: "veth1",
        peerNetns: null,
        mtu: 1400,
        mac: "02:00:00:00:00:01",
      },
    },
    {
      op: "create",
      netns: undefined,
      options: {
        ...NO_OPTIONS,
        name: "v10",
        kind: "vlan",
        peerNetns: "/proc/1/ns/net",
        parent: "eth0",
        vlanId: 10,
      },
    },
    {
      op: "create",
      netns: "/proc/2/ns/net",
      options: {
        ...NO_OPTIONS,
        name: "mv0",
        kind: "macvlan",
        parent: "eth0",
        mode: "bridge",
      },
    },
  ]);
  assert.equal(events.published.length, 3);
  const event = payload(InterfaceCreateSchema, events.published[0]);
  assert.deepEqual(
    [events.published[0].namespace, event.netns, event.name, event.type],
    ["ns1", "n1", "veth0", "veth"],
  );
});

Deno.test("Network.UpdateInterface maps each change and publishes under the netns it ends in", async () => {
  const { netns, links, events, client } = setup("ns1");
  netns.netns.create("ns1", { name: "n1" });
  const res = await client.updateInterface({
    name: "eth0",
    up: false,
    mtu: 9000,
    mac: "02:00:00:00:00:02",
    rename: "lan0",
    master: "none",
    moveToNetns: "n1",
    addAddresses: ["10.0.0.2/24"],
    delAddresses: ["10.0.0.3/24"],
    addRoutes: [{ destination: "default", gateway: "10.0.0.1", metric: 5 }],
    delRoutes: [{ destination: "10.9.0.0/16" }],
  });
  assert.equal(res.interface?.name, "lan0");
  await client.updateInterface({
    netns: "n1",
    name: "lan0",
    master: "br0",
    moveToNetns: "host",
  });
  await client.updateInterface({ netns: "n1", name: "lan0" });
  assert.deepEqual(links.calls, [
    {
      op: "update",
      netns: undefined,
      name: "eth0",
      options: {
        up: false,
        mtu: 9000,
        mac: "02:00:00:00:00:02",
        rename: "lan0",
        master: "",
        moveTo: "/run/netns/ns1/n1",
        addAddresses: ["10.0.0.2/24"],
        delAddresses: ["10.0.0.3/24"],
        addRoutes: [{ destination: "default", gateway: "10.0.0.1" }],
        delRoutes: [{ destination: "10.9.0.0/16", gateway: "" }],
      },
    },
    {
      op: "update",
      netns: "/run/netns/ns1/n1",
      name: "lan0",
      options: { ...NO_CHANGE, master: "br0", moveTo: null },
    },
    {
      op: "update",
      netns: "/run/netns/ns1/n1",
      name: "lan0",
      options: NO_CHANGE,
    },
  ]);
  assert.deepEqual(
    events.published.map((e) => {
      const event = payload(InterfaceUpdateSchema, e);
      return [e.topic, event.netns, event.name];
    }),
    [
      ["/interfaces/update", "n1", "lan0"],
      ["/interfaces/update", "host", "lan0"],
      ["/interfaces/update", "n1", "lan0"],
    ],
  );
});

Deno.test("Network.DeleteInterface deletes and publishes; netlink's error keeps its code and publishes nothing", async () => {
  const { links, events, client } = setup("ns1");
  await client.deleteInterface({ netns: "/proc/3/ns/net", name: "dummy0" });
  assert.deepEqual(links.calls, [
    { op: "delete", netns: "/proc/3/ns/net", name: "dummy0" },
  ]);
  const event = payload(InterfaceDeleteSchema, events.published[0]);
  assert.deepEqual([event.netns, event.name], ["/proc/3/ns/net", "dummy0"]);
  links.failure = notFound('interface "dummy0"');
  await assert.rejects(client.deleteInterface({ name: "dummy0" }), {
    code: Code.NotFound,
    rawMessage: 'interface "dummy0": not found',
  });
  links.failure = invalidArgument(
    "interface name \"a/b\" contains '/', ':', NUL or white space",
  );
  await assert.rejects(client.createInterface({ name: "a/b", type: "dummy" }), {
    code: Code.InvalidArgument,
  });
  assert.equal(events.published.length, 1);
});

Deno.test("Network interface changes without a namespace header fail before netlink is called", async () => {
  const { links, events, client } = setup();
  const expected = {
    code: Code.FailedPrecondition,
    rawMessage: "namespace is required: failed precondition",
  };
  await assert.rejects(client.listInterfaces({}), expected);
  await assert.rejects(
    client.createInterface({ name: "d0", type: "dummy" }),
    expected,
  );
  await assert.rejects(
    client.updateInterface({ name: "d0", up: true }),
    expected,
  );
  await assert.rejects(client.deleteInterface({ name: "d0" }), expected);
  assert.deepEqual(links.calls, []);
  assert.deepEqual(events.published, []);
});
