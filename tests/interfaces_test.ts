/**
 * `berth ctr interfaces` against a real daemon: interfaces created in a
 * named netns, seen by iproute2 on the host and from a container the real
 * `ctr run --with-ns network:PATH` puts in that netns; removed again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Network } from "../src/gen/berth/services/network/v1/network_pb.ts";
import { Events } from "../src/gen/containerd/services/events/v1/events_pb.ts";
import { eventRegistry, typeNameOf } from "../src/api/event_registry.ts";
import { fromBinary } from "@bufbuild/protobuf";
import type { Client as ServiceClient } from "@connectrpc/connect";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import { withBusybox } from "./_containers.ts";
import { run, startDaemon, type TestDaemon } from "./_harness.ts";
import { kernelHas } from "../src/netlink/_test_netns.ts";

async function ipIn(path: string, args: string[]): Promise<string> {
  const out = await run("nsenter", [`--net=${path}`, "ip", ...args]);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout;
}

/**
 * Subscribes to `/interfaces/*` and waits until the subscription is live
 * (a probe change to `lo` of netns "ifs" arrives); then collects
 * `TOPIC NAME` lines.
 */
async function watchInterfaceEvents(
  daemon: TestDaemon,
  network: ServiceClient<typeof Network>,
) {
  const abort = new AbortController();
  const lines: string[] = [];
  let wake = () => {};
  const stream = new Client({
    address: daemon.address,
    namespace: daemon.namespace,
  })
    .service(Events).subscribe({ filters: ['topic~="^/interfaces/"'] }, {
      signal: abort.signal,
    });
  const pump = (async () => {
    for await (const envelope of stream) {
      const schema = eventRegistry.getMessage(
        typeNameOf(envelope.event!.typeUrl),
      )!;
      const payload = fromBinary(schema, envelope.event!.value) as {
        name?: string;
      };
      lines.push(`${envelope.topic} ${payload.name}`);
      wake();
    }
  })().catch(() => {});
  const next = () => new Promise<void>((resolve) => wake = resolve);
  // Probes until one is seen: the subscription is then registered.
  for (let probe = 0; lines.length === 0; probe++) {
    assert.ok(probe < 100, "the event subscription never came up");
    await network.updateInterface({ netns: "ifs", name: "lo", up: false });
  }
  return {
    async waitFor(line: string) {
      // A guard against a hang, not a timing assertion.
      const timer = setTimeout(() => abort.abort(), 30_000);
      try {
        while (!lines.includes(line)) {
          assert.ok(!abort.signal.aborted, `no ${line} in ${lines}`);
          await Promise.race([next(), pump]);
        }
      } finally {
        clearTimeout(timer);
      }
    },
    stop() {
      abort.abort();
      return pump;
    },
  };
}

Deno.test("berth ctr interfaces: a veth pair and a bridge in a named netns, seen by ip and by a ctr run container", async () => {
  await withBusybox(async (daemon, ctrRun) => {
    const network = new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Network);
    const { namespace } = await network.createNamespace({
      namespace: { name: "ifs" },
    });
    const path = namespace!.path;
    try {
      const seen = await watchInterfaceEvents(daemon, network);
      const ok = async (args: string[]) => {
        const out = await daemon.berth(args);
        assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
        return out.stdout;
      };

      // A name over 15 bytes: a clear InvalidArgument, nothing created.
      const before = await ipIn(path, ["-o", "link"]);
      const long = await daemon.berth([
        "interfaces",
        "add",
        "ifs",
        "sixteen-bytes-xx",
        "--type",
        "veth",
        "--peer",
        "p0",
      ]);
      assert.equal(long.code, 1);
      assert.match(
        long.stderr,
        /interface name "sixteen-bytes-xx" is 16 bytes long \(at most 15\): invalid argument/,
      );
      await assert.rejects(
        network.createInterface({
          netns: "ifs",
          name: "sixteen-bytes-xx",
          type: "bridge",
        }),
        (error) =>
          error instanceof ClientError && error.code === Code.InvalidArgument,
      );
      assert.equal(await ipIn(path, ["-o", "link"]), before);

      // A dummy where the kernel has the driver, else a clear error.
      const dummy = await daemon.berth([
        "interfaces",
        "add",
        "ifs",
        "dummy0",
        "--type",
        "dummy",
      ]);
      if (kernelHas("DUMMY")) {
        assert.equal(dummy.code, 0, dummy.stderr);
      } else {
        assert.match(
          dummy.stderr,
          /create interface "dummy0": this kernel has no dummy driver/,
        );
      }

      await ok([
        "interfaces",
        "add",
        "ifs",
        "veth0",
        "--type",
        "veth",
        "--peer",
        "veth1",
      ]);
      await ok(["interfaces", "add", "ifs", "br0", "--type", "bridge"]);
      const set = [
        ["veth0", "10.66.0.1/24"],
        ["veth1", "10.66.0.2/24"],
        ["br0", "10.67.0.1/24"],
        ...(dummy.code === 0 ? [["dummy0", "10.68.0.1/24"]] : []),
      ];
      for (const [name, cidr] of set) {
        await ok([
          "interfaces",
          "set",
          "ifs",
          name,
          "--mtu",
          "1400",
          "--up",
          "--add-address",
          cidr,
        ]);
      }
      await ok([
        "interfaces",
        "set",
        "ifs",
        "veth0",
        "--add-route",
        "10.99.0.0/16,via=10.66.0.2",
      ]);

      // iproute2 on the host, inside the netns, sees them.
      const addresses = await ipIn(path, ["-o", "addr"]);
      for (const [name, cidr] of set) {
        assert.match(addresses, new RegExp(`: ${name}\\s+inet ${cidr} `));
        assert.match(
          await ipIn(path, ["-o", "link", "show", name]),
          / mtu 1400 .*state (UP|UNKNOWN)/,
        );
      }
      assert.match(
        await ipIn(path, ["-o", "route"]),
        /^10\.99\.0\.0\/16 via 10\.66\.0\.2 dev veth0 /m,
      );

      // berth's own listing, as a table and as JSON.
      const table = await ok(["interfaces", "ls", "ifs"]);
      assert.match(table, /^INDEX\s+NAME\s+TYPE\s+STATE\s+MTU/);
      assert.match(table, /\bveth0\s+veth\s+up\s+1400\s/);
      const listed = JSON.parse(
        await ok(["interfaces", "ls", "--json", "ifs"]),
      ) as { name: string; mtu: number; addresses: { cidr: string }[] }[];
      const veth0 = listed.find((x) => x.name === "veth0")!;
      assert.equal(veth0.mtu, 1400);
      assert.deepEqual(
        veth0.addresses.map((a) => a.cidr).filter((c) => c.includes(".")),
        ["10.66.0.1/24"],
      );
      // The same netns named by its path.
      assert.deepEqual(
        JSON.parse(await ok(["interfaces", "ls", "--json", path])),
        listed,
      );

      // A container the real ctr puts in that netns sees the same.
      const inside = await ctrRun([
        "--rm",
        "--with-ns",
        `network:${path}`,
        "docker.io/library/busybox:latest",
        "ifs-c1",
        "ip",
        "-o",
        "addr",
      ]);
      assert.equal(inside.code, 0, inside.stderr);
      for (const [name, cidr] of set) {
        assert.match(inside.stdout, new RegExp(`: ${name}\\s+inet ${cidr} `));
      }

      // Deleting removes them (veth1 goes with veth0).
      await ok(["interfaces", "rm", "ifs", "veth0", "br0"]);
      if (dummy.code === 0) await ok(["interfaces", "rm", "ifs", "dummy0"]);
      const after = await ipIn(path, ["-o", "link"]);
      assert.doesNotMatch(after, /veth0|veth1|br0|dummy0/);
      const gone = await daemon.berth(["interfaces", "rm", "ifs", "veth0"]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /interface "veth0": not found/);

      for (
        const event of [
          "/interfaces/create veth0",
          "/interfaces/update veth0",
          "/interfaces/delete veth0",
        ]
      ) await seen.waitFor(event);
      seen.stop();
    } finally {
      await network.deleteNamespace({ name: "ifs", force: true });
    }
  });
});

Deno.test("interfaces across berth netns by name: peer netns, move, host; unknown and relative netns refused", async () => {
  await using daemon = await startDaemon();
  const network = new Client({
    address: daemon.address,
    namespace: daemon.namespace,
  }).service(Network);
  const paths: Record<string, string> = {};
  try {
    for (const name of ["left", "right"]) {
      const made = await daemon.berth(["netns", "create", name]);
      assert.equal(made.code, 0, made.stderr);
      paths[name] = made.stdout.trim();
    }
    const add = await daemon.berth([
      "interfaces",
      "add",
      "left",
      "l0",
      "--type",
      "veth",
      "--peer",
      "r0",
      "--peer-netns",
      "right",
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(await ipIn(paths.right, ["-o", "link"]), /: r0@if\d+: /);

    const moved = await daemon.berth([
      "interfaces",
      "set",
      "left",
      "l0",
      "--move-to",
      "right",
      "--add-address",
      "10.70.0.1/24",
      "--up",
    ]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.doesNotMatch(await ipIn(paths.left, ["-o", "link"]), /l0/);
    assert.match(
      await ipIn(paths.right, ["-o", "addr", "show", "l0"]),
      /inet 10\.70\.0\.1\/24 /,
    );

    // host: the daemon's own namespace, as ip sees it.
    const host = await daemon.berth(["interfaces", "ls", "-q", "host"]);
    assert.equal(host.code, 0, host.stderr);
    const ipHost = await run("ip", ["-o", "link"]);
    assert.deepEqual(
      host.stdout.trim().split("\n"),
      ipHost.stdout.trim().split("\n").map((line) =>
        line.split(": ")[1].split("@")[0]
      ),
    );

    for (
      const [netns, code, message] of [
        ["nowhere", Code.NotFound, /nowhere/],
        [
          "rel/path",
          Code.InvalidArgument,
          /netns path "rel\/path": not absolute/,
        ],
      ] as const
    ) {
      await assert.rejects(
        network.listInterfaces({ netns }),
        (error) => {
          // The library's typed errors carry the gRPC code and message.
          assert.ok(error instanceof ClientError, String(error));
          assert.equal(Code[error.code], Code[code]);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  } finally {
    for (const name of Object.keys(paths)) {
      await daemon.berth(["netns", "rm", "--force", name]);
    }
  }
});
