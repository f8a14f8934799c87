/**
 * Bad network input: each refused with a clear gRPC error, and nothing
 * half-made (no veth, lease, portmap rule, netns file or container).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client, ClientError, Code } from "../src/client/mod.ts";
import { Network } from "../src/gen/berth/services/network/v1/network_pb.ts";
import { run, type TestDaemon } from "./_harness.ts";
import { BUSYBOX, fifoDir } from "./_containers.ts";
import {
  freePort,
  networkLeftovers,
  removeContainer,
  type TestNetwork,
  unusedOctet,
  withNetworkDaemon,
} from "./_network.ts";

async function writeConflist(
  net: TestNetwork,
  file: string,
  conflist: unknown,
) {
  await Deno.writeTextFile(
    join(net.confDir, file),
    typeof conflist === "string" ? conflist : JSON.stringify(conflist),
  );
}

function bridgeChain(bridge: string, subnet: string, dataDir: string) {
  return [
    {
      type: "bridge",
      bridge,
      isGateway: true,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet }]],
        dataDir,
      },
    },
    { type: "portmap", capabilities: { portMappings: true } },
  ];
}

/** `call` fails with the library's typed error of `code`, worded as `message`. */
async function refused(call: Promise<unknown>, code: Code, message: RegExp) {
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

async function nothingOf(daemon: TestDaemon, net: TestNetwork, id: string) {
  const containers = await daemon.ctr(["containers", "ls", "-q"]);
  assert.doesNotMatch(containers.stdout, new RegExp(`^${id}$`, "m"));
  const netns = await daemon.berth(["netns", "ls", "-q"]);
  assert.doesNotMatch(netns.stdout, new RegExp(`^${id}$`, "m"));
  await assert.rejects(
    Deno.stat(join(net.netnsDir, daemon.namespace, id)),
    Deno.errors.NotFound,
  );
}

Deno.test("bad network input: clear errors, nothing half-created", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const fifos = ["--fifo-dir", fifoDir(daemon)];
    // The default network is written on first use, before any other file.
    const networks = await daemon.berth(["network", "ls", "-q"]);
    assert.equal(networks.stdout, `${net.name}\n`);

    const tinyBridge = `${net.bridge.slice(0, 10)}t`;
    const tinyData = join(daemon.dir, "tiny-ipam");
    await writeConflist(net, "20-missing.conflist", {
      cniVersion: "1.0.0",
      name: "missing",
      plugins: [
        ...bridgeChain(`${net.bridge.slice(0, 10)}m`, "10.99.0.0/24", tinyData),
        { type: "no-such-plugin" },
      ],
    });
    await writeConflist(net, "30-broken.conflist", '{"name": "broken", ');
    await writeConflist(net, "40-tiny.conflist", {
      cniVersion: "1.0.0",
      name: "tiny",
      plugins: bridgeChain(
        tinyBridge,
        `10.${unusedOctet()}.0.252/30`,
        tinyData,
      ),
    });
    try {
      // A plugin binary that is not installed.
      const missing = await daemon.berth([
        "run",
        ...fifos,
        "--network",
        "missing",
        BUSYBOX,
        "m1",
        "true",
      ]);
      assert.notEqual(missing.code, 0);
      assert.match(
        missing.stderr,
        /network "missing": CNI plugin "no-such-plugin" not found in \/usr\/lib\/cni, \/opt\/cni\/bin/,
      );
      await nothingOf(daemon, net, "m1");
      assert.equal(
        (await run("ip", ["link", "show", `${net.bridge.slice(0, 10)}m`])).code,
        1,
        "no bridge made for a chain that cannot run",
      );

      // A broken conflist: the network is unknown, and the error says why.
      await daemon.berth(["netns", "create", "probe"]);
      const network = new Client({
        address: daemon.address,
        namespace: daemon.namespace,
      }).service(Network);
      await refused(
        network.attach({ network: "broken", netns: "probe" }),
        Code.NotFound,
        /network "broken" not found in .*\(invalid files: .*30-broken\.conflist: /,
      );

      // An unknown network.
      await refused(
        network.attach({ network: "nope", netns: "probe" }),
        Code.NotFound,
        /network "nope" not found/,
      );

      // An interface name over 15 bytes.
      await refused(
        network.attach({ netns: "probe", interface: "a-very-long-ifname" }),
        Code.InvalidArgument,
        /interface name "a-very-long-ifname" must be 1 to 15 bytes/,
      );

      // A netns name with '/'.
      await refused(
        network.createNamespace({ namespace: { name: "a/b" } }),
        Code.InvalidArgument,
        /network namespace name "a\/b"/,
      );
      assert.deepEqual(
        (await daemon.berth(["netns", "ls", "-q"])).stdout,
        "probe\n",
      );

      // An exhausted range: a /30 holds one address besides its gateway.
      const first = await daemon.berth([
        "run",
        ...fifos,
        "-d",
        "--network",
        "tiny",
        BUSYBOX,
        "t1",
        "sleep",
        "600",
      ]);
      assert.equal(first.code, 0, first.stderr);
      const second = await daemon.berth([
        "run",
        ...fifos,
        "--network",
        "tiny",
        BUSYBOX,
        "t2",
        "true",
      ]);
      assert.notEqual(second.code, 0);
      assert.match(
        second.stderr,
        /network "tiny": plugin bridge ADD: .*no IP addresses available/,
      );
      await nothingOf(daemon, net, "t2");
      const veths = await run("ip", [
        "-o",
        "link",
        "show",
        "master",
        tinyBridge,
      ]);
      assert.equal(veths.stdout.trim().split("\n").length, 1, veths.stdout);

      // A host port already published.
      const port = freePort();
      const web = await daemon.berth([
        "run",
        ...fifos,
        "-d",
        "-p",
        `${port}:80`,
        BUSYBOX,
        "p1",
        "sleep",
        "600",
      ]);
      assert.equal(web.code, 0, web.stderr);
      const again = await daemon.berth([
        "run",
        ...fifos,
        "-p",
        `${port}:8080`,
        BUSYBOX,
        "p2",
        "true",
      ]);
      assert.notEqual(again.code, 0);
      assert.match(
        again.stderr,
        new RegExp(
          `host port ${port}/tcp is already published by attachment "${net.name}/p1/eth0"`,
        ),
      );
      await nothingOf(daemon, net, "p2");

      // Everything removed: nothing of either network is left.
      for (const id of ["t1", "p1"]) {
        await removeContainer(daemon, id);
      }
      assert.equal((await daemon.berth(["netns", "rm", "probe"])).code, 0);
      assert.deepEqual(await networkLeftovers(net, [port]), []);
      assert.equal(
        (await run("ip", ["-o", "link", "show", "master", tinyBridge])).stdout,
        "",
      );
      const leases = [...Deno.readDirSync(join(tinyData, "tiny"))].map((e) =>
        e.name
      ).filter((name) => /^\d/.test(name));
      assert.deepEqual(leases, []);
    } finally {
      await run("ip", ["link", "del", tinyBridge]);
    }
  });
});
