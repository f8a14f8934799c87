import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import {
  createInterface,
  deleteInterface,
  getNetnsInterface,
  listNetnsInterfaces,
  updateInterface,
} from "./interfaces.ts";
import {
  ipAddresses,
  ipIn,
  ipLink,
  kernelHas,
  makeNetns,
} from "./_test_netns.ts";

function ownNetns(): string {
  return Deno.readLinkSync("/proc/thread-self/ns/net");
}

function assertCode(fn: () => unknown, code: Code, message: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BerthError, String(error));
    assert.equal(Code[error.code], Code[code], error.message);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("a bridge and a veth pair across namespaces, addressed, MTU 1400, up", async () => {
  await using netns = await makeNetns(2);
  const [a, b] = netns.paths;
  const before = ownNetns();

  const bridge = createInterface(a, { name: "br0", kind: "bridge" });
  assert.equal(bridge.kind, "bridge");
  assert.equal(bridge.up, false);
  const veth = createInterface(a, {
    name: "veth-a",
    kind: "veth",
    peer: "veth-b",
    peerNetns: b,
  });
  assert.equal(veth.kind, "veth");
  assert.equal(ownNetns(), before, "the calling thread stays home");

  const updated = updateInterface(a, "veth-a", {
    mtu: 1400,
    up: true,
    addAddresses: ["10.77.0.1/24", "fd77::1/64"],
  });
  updateInterface(a, "br0", {
    mtu: 1400,
    up: true,
    addAddresses: ["10.78.0.1/16"],
  });
  assert.equal(updated.mtu, 1400);
  assert.equal(updated.up, true);
  assert.deepEqual(
    updated.addresses.filter((x) => x.scope === "global").map((x) => x.address),
    ["10.77.0.1/24", "fd77::1/64"],
  );

  // iproute2 sees what the library did.
  const link = await ipLink(a, "veth-a");
  assert.match(link!, /^\d+: veth-a@if\d+: <[^>]*\bUP\b[^>]*> mtu 1400 /);
  assert.deepEqual(
    (await ipAddresses(a, "veth-a")).filter((x) => !x.startsWith("fe80")),
    ["10.77.0.1/24", "fd77::1/64"],
  );
  assert.equal((await ipAddresses(a, "br0"))[0], "10.78.0.1/16");
  assert.match((await ipLink(a, "br0"))!, / mtu 1400 /);
  assert.ok(await ipLink(b, "veth-b"), "the peer is in the other namespace");
  assert.equal(await ipLink(a, "veth-b"), undefined);

  // The library's listing agrees with ip's, link by link.
  const listed = listNetnsInterfaces(a);
  const ipNames = (await ipIn(a, ["-o", "link", "show"]))
    .trim().split("\n").map((line) => line.split(": ")[1].split("@")[0]);
  assert.deepEqual(listed.map((x) => x.name), ipNames);
  const ipRoutes = (await ipIn(a, ["-o", "route", "show", "dev", "veth-a"]))
    .trim();
  assert.match(
    ipRoutes,
    /^10\.77\.0\.0\/24 proto kernel scope link src 10\.77\.0\.1/,
  );
  assert.ok(
    listed.find((x) => x.name === "veth-a")!.routes.some((r) =>
      r.destination === "10.77.0.0/24" && r.source === "10.77.0.1" &&
      r.protocol === "kernel"
    ),
  );

  // Deleting one end of a veth removes both.
  deleteInterface(a, "veth-a");
  deleteInterface(a, "br0");
  assert.equal(await ipLink(a, "veth-a"), undefined);
  assert.equal(await ipLink(b, "veth-b"), undefined);
  assert.equal(await ipLink(a, "br0"), undefined);
  assert.equal(ownNetns(), before);
});

Deno.test("a bridge master, and a macvlan on a parent in the same or another namespace", async () => {
  await using netns = await makeNetns(2);
  const [a, b] = netns.paths;
  createInterface(a, { name: "br0", kind: "bridge" });
  createInterface(a, { name: "parent0", kind: "veth", peer: "port0" });
  const enslaved = updateInterface(a, "port0", { master: "br0" });
  assert.equal(enslaved.master, "br0");
  assert.match((await ipLink(a, "port0"))!, / master br0 /);
  assert.equal(updateInterface(a, "port0", { master: "" }).master, "");
  assert.doesNotMatch((await ipLink(a, "port0"))!, / master /);

  const macvlan = createInterface(a, {
    name: "mv0",
    kind: "macvlan",
    parent: "parent0",
    mode: "private",
  });
  assert.equal(macvlan.kind, "macvlan");
  assert.equal(macvlan.parentIndex, getNetnsInterface(a, "parent0").index);
  assert.match((await ipLink(a, "mv0"))!, /^\d+: mv0@parent0: /);
  assert.match(
    await ipIn(a, ["-d", "-o", "link", "show", "mv0"]),
    /macvlan mode private /,
  );
  assert.equal(macvlan.mode, "private");

  // A macvlan on a parent in another namespace lands in the target one.
  createInterface(b, {
    name: "mv-b",
    kind: "macvlan",
    parent: "parent0",
    parentNetns: a,
  });
  assert.match(
    await ipIn(b, ["-d", "-o", "link", "show", "mv-b"]),
    /macvlan mode bridge /,
  );
  assert.equal(getNetnsInterface(b, "mv-b").mode, "bridge");
  // A veth without a peer name gets a generated one.
  const peerIndex =
    createInterface(b, { name: "v0", kind: "veth" }).parentIndex;
  assert.match(
    listNetnsInterfaces(b).find((x) => x.index === peerIndex)!.name,
    /^veth[0-9a-f]{8}$/,
  );
  assert.equal(await ipLink(a, "mv-b"), undefined);
});

Deno.test("dummy, ipvlan and vlan: made when the kernel has the driver, else Unimplemented with nothing made", async () => {
  await using netns = await makeNetns(1);
  const [a] = netns.paths;
  createInterface(a, { name: "parent0", kind: "veth", peer: "peer0" });
  const cases = [
    { option: "DUMMY", name: "d0", kind: "dummy", detail: /dummy / },
    {
      option: "IPVLAN",
      name: "iv0",
      kind: "ipvlan",
      parent: "parent0",
      mode: "l3",
      detail: /ipvlan\s+mode l3 /,
    },
    {
      option: "VLAN_8021Q",
      name: "parent0.42",
      kind: "vlan",
      parent: "parent0",
      vlanId: 42,
      detail: /vlan protocol 802\.1Q id 42 /,
    },
  ] as const;
  for (const { option, detail, ...options } of cases) {
    if (kernelHas(option)) {
      const made = createInterface(a, options);
      assert.equal(made.kind, options.kind);
      if ("vlanId" in options) assert.equal(made.vlanId, options.vlanId);
      if ("mode" in options) assert.equal(made.mode, options.mode);
      assert.match(
        await ipIn(a, ["-d", "-o", "link", "show", options.name]),
        detail,
      );
    } else {
      assertCode(
        () => createInterface(a, options),
        Code.Unimplemented,
        new RegExp(
          `^create interface "${options.name}": this kernel has no ${options.kind} driver`,
        ),
      );
      assert.equal(await ipLink(a, options.name), undefined);
    }
  }
});

Deno.test("routes with and without a gateway, MAC, rename and a move to another namespace", async () => {
  await using netns = await makeNetns(2);
  const [a, b] = netns.paths;
  createInterface(a, { name: "d0", kind: "veth", peer: "d0-peer" });
  updateInterface(a, "d0", {
    up: true,
    mac: "02:11:22:33:44:55",
    addAddresses: ["10.80.0.2/24", "fd80::2/64"],
    addRoutes: [
      { destination: "10.81.0.0/16" },
      { destination: "default", gateway: "10.80.0.1" },
      { destination: "fd81::/64", gateway: "fd80::1" },
    ],
  });
  const routes = await ipIn(a, ["-o", "route", "show"]);
  assert.match(routes, /^default via 10\.80\.0\.1 dev d0 /m);
  assert.match(routes, /^10\.81\.0\.0\/16 dev d0 scope link /m);
  assert.match(
    await ipIn(a, ["-o", "-6", "route", "show"]),
    /^fd81::\/64 via fd80::1 dev d0 /m,
  );
  assert.match((await ipLink(a, "d0"))!, /link\/ether 02:11:22:33:44:55 /);
  const listed = getNetnsInterface(a, "d0");
  assert.equal(listed.mac, "02:11:22:33:44:55");
  assert.ok(
    listed.routes.some((r) =>
      r.destination === "default" && r.gateway === "10.80.0.1"
    ),
  );
  assert.ok(
    listed.routes.some((r) =>
      r.destination === "fd81::/64" && r.gateway === "fd80::1"
    ),
  );

  updateInterface(a, "d0", {
    delRoutes: [{ destination: "default", gateway: "10.80.0.1" }],
    delAddresses: ["fd80::2/64"],
  });
  assert.doesNotMatch(await ipIn(a, ["-o", "route", "show"]), /^default/m);
  assert.doesNotMatch(
    (await ipAddresses(a, "d0")).join(" "),
    /fd80::2/,
  );

  // Renaming wants the link down, as the kernel does.
  assertCode(
    () => updateInterface(a, "d0", { rename: "d1" }),
    Code.FailedPrecondition,
    /rename interface "d0": it is up/,
  );
  const renamed = updateInterface(a, "d0", { up: false, rename: "d1" });
  assert.equal(renamed.name, "d1");
  assert.ok(await ipLink(a, "d1"));

  const moved = updateInterface(a, "d1", {
    moveTo: b,
    up: true,
    addAddresses: ["10.90.0.1/24"],
  });
  assert.equal(moved.name, "d1");
  assert.equal(await ipLink(a, "d1"), undefined);
  assert.match((await ipLink(b, "d1"))!, /\bUP\b/);
  // A bridge is bound to its namespace: the kernel says so.
  createInterface(a, { name: "br0", kind: "bridge" });
  assertCode(
    () => updateInterface(a, "br0", { moveTo: b }),
    Code.InvalidArgument,
    /change interface "br0": Invalid argument \(The interface netns is immutable\)/,
  );
  assert.deepEqual(
    (await ipAddresses(b, "d1")).filter((x) => x.includes(".")),
    ["10.90.0.1/24"],
  );
});

Deno.test("kernel refusals carry the errno's meaning and gRPC code; bad input changes nothing", async () => {
  await using netns = await makeNetns(1);
  const [a] = netns.paths;
  const before = await ipIn(a, ["-o", "link", "show"]);

  assertCode(
    () => createInterface(a, { name: "a-name-of-16byte", kind: "dummy" }),
    Code.InvalidArgument,
    /interface name "a-name-of-16byte" is 16 bytes long \(at most 15\)/,
  );
  assertCode(
    () =>
      createInterface(a, {
        name: "ok0",
        kind: "veth",
        peer: "peer-name-too-long",
      }),
    Code.InvalidArgument,
    /peer name "peer-name-too-long" is 18 bytes long/,
  );
  assertCode(
    () => createInterface(a, { name: "bad/name", kind: "dummy" }),
    Code.InvalidArgument,
    /contains '\/'/,
  );
  assertCode(
    () => createInterface(a, { name: "x0", kind: "tun" as "dummy" }),
    Code.InvalidArgument,
    /interface kind "tun"/,
  );
  assertCode(
    () => createInterface(a, { name: "v0", kind: "vlan", parent: "lo" }),
    Code.InvalidArgument,
    /vlan id \(none\)/,
  );
  assertCode(
    () => createInterface(a, { name: "m0", kind: "macvlan", parent: "nope0" }),
    Code.NotFound,
    /^interface "nope0": not found$/,
  );
  assertCode(
    () => updateInterface(a, "nope0", { up: true }),
    Code.NotFound,
    /^interface "nope0": not found$/,
  );
  assertCode(
    () => deleteInterface(a, "nope0"),
    Code.NotFound,
    /^interface "nope0": not found$/,
  );
  assertCode(
    () => listNetnsInterfaces(`${a}-missing`),
    Code.NotFound,
    /netns ".*-missing": No such file or directory/,
  );
  assert.equal(await ipIn(a, ["-o", "link", "show"]), before);

  createInterface(a, { name: "d0", kind: "bridge" });
  assertCode(
    () => createInterface(a, { name: "d0", kind: "bridge" }),
    Code.AlreadyExists,
    /create interface "d0": File exists/,
  );
  assertCode(
    () => updateInterface(a, "d0", { addAddresses: ["10.1.2.3/33"] }),
    Code.InvalidArgument,
    /address "10\.1\.2\.3\/33": not an IP prefix/,
  );
  assertCode(
    () =>
      updateInterface(a, "d0", {
        mtu: 1400,
        delAddresses: ["10.9.9.9/24"],
      }),
    Code.NotFound,
    /address 10\.9\.9\.9\/24 on interface "d0": not found/,
  );
  assert.doesNotMatch((await ipLink(a, "d0"))!, / mtu 1400 /);
  updateInterface(a, "d0", { addAddresses: ["10.1.2.3/24"] });
  assertCode(
    () => updateInterface(a, "d0", { addAddresses: ["10.1.2.3/24"] }),
    Code.AlreadyExists,
    /^address 10\.1\.2\.3\/24 on interface "d0": already exists$/,
  );
  // Checked before the first change: the MTU stays as it was.
  createInterface(a, { name: "d1", kind: "bridge" });
  for (
    const [options, code, message] of [
      [
        { rename: "d1" },
        Code.AlreadyExists,
        /^interface "d1": already exists$/,
      ],
      [{ master: "nope0" }, Code.NotFound, /^interface "nope0": not found$/],
      [
        { moveTo: `${a}-missing` },
        Code.NotFound,
        /^netns ".*-missing": No such file or directory: not found$/,
      ],
    ] as const
  ) {
    assertCode(
      () => updateInterface(a, "d0", { mtu: 1400, ...options }),
      code,
      message,
    );
  }
  assert.doesNotMatch((await ipLink(a, "d0"))!, / mtu 1400 /);
  // The kernel's own explanation comes along (a down link has no gateway).
  assertCode(
    () =>
      updateInterface(a, "d0", {
        addRoutes: [{ destination: "10.5.0.0/16", gateway: "10.1.2.1" }],
      }),
    Code.FailedPrecondition,
    /add route 10\.5\.0\.0\/16 via 10\.1\.2\.1: Network is unreachable \(Nexthop has invalid gateway\)/,
  );
  assertCode(
    () => updateInterface(a, "d0", { mtu: 1 << 20 }),
    Code.InvalidArgument,
    /change interface "d0": /,
  );
});

Deno.test("the caller's own namespace lists what ip lists on the host", async () => {
  const out = await new Deno.Command("ip", { args: ["-o", "addr", "show"] })
    .output();
  const ipAddressesOnHost = [
    ...new TextDecoder().decode(out.stdout).matchAll(
      /^\d+: (\S+)\s+inet6? (\S+) /gm,
    ),
  ].map((m) => `${m[1]} ${m[2]}`);
  const listed = listNetnsInterfaces(undefined).flatMap((link) =>
    link.addresses.map((a) => `${link.name} ${a.address}`)
  );
  assert.deepEqual(listed.sort(), ipAddressesOnHost.sort());
});
