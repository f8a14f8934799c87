/**
 * Network primitives end to end: named netns, CNI attachments through the
 * real plugins in /usr/lib/cni, containers joining them with berth ctr and
 * the real ctr, cleanup after removal and after a daemon crash, and bad
 * input refused with nothing half-made. Every test uses its own conf dir,
 * bridge, subnet, IPAM data dir and netns dir.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "../src/client/mod.ts";
import { Network } from "../src/gen/berth/services/network/v1/network_pb.ts";
import { berthCtrArgs, collect, run, type TestDaemon } from "./_harness.ts";
import { BUSYBOX, fifoDir } from "./_containers.ts";
import {
  callNetwork,
  freePort,
  networkLeftovers,
  removeContainer,
  withNetworkDaemon,
} from "./_network.ts";

const PAGE = "hello from berth";
const HTTPD = [
  "sh",
  "-c",
  `mkdir -p /www && echo '${PAGE}' > /www/index.html && exec httpd -f -p 80 -h /www`,
];

/** Starts busybox httpd detached as "web", attached by `flags`. */
async function startWeb(daemon: TestDaemon, flags: string[]): Promise<void> {
  const web = await daemon.berth([
    "run",
    "--fifo-dir",
    fifoDir(daemon),
    "-d",
    ...flags,
    BUSYBOX,
    "web",
    ...HTTPD,
  ]);
  assert.equal(web.code, 0, web.stderr);
}

/** `wget` from inside a container, retried while httpd starts. */
function wgetScript(url: string): string[] {
  return [
    "sh",
    "-c",
    `for i in $(seq 100); do wget -qO- ${url} && exit 0; sleep 0.1; done; exit 1`,
  ];
}

interface AttachmentJSON {
  id: string;
  ips: string[];
  state: string;
  containerId: string;
  netns: string;
  args?: Record<string, string>;
}

async function attachmentsOf(
  daemon: {
    berth: (
      a: string[],
    ) => Promise<{ code: number; stdout: string; stderr: string }>;
  },
  container: string,
): Promise<AttachmentJSON[]> {
  const r = await daemon.berth([
    "network",
    "attachments",
    "--json",
    `container_id==${container}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Polls the host port until it answers (the portmap rule is in place once attached). */
async function curl(port: number): Promise<string> {
  const r = await run("curl", [
    "-sS",
    "--max-time",
    "10",
    `http://127.0.0.1:${port}/`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("two containers on one bridge: httpd answers wget by IP and a published port answers curl; nothing left after removal", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const port = freePort();
    const fifos = ["--fifo-dir", fifoDir(daemon)];
    await startWeb(daemon, ["--cni", "-p", `${port}:80`]);
    const [attachment] = await attachmentsOf(daemon, "web");
    const ip = attachment.ips[0].split("/")[0];
    assert.ok(ip.startsWith(`${net.prefix}.`), ip);

    // ip addr inside shows the CNI-assigned address; /etc/hosts names it.
    const addr = await daemon.berth([
      "tasks",
      "exec",
      ...fifos,
      "--exec-id",
      "addr",
      "web",
      "sh",
      "-c",
      "ip -o -4 addr show eth0; cat /etc/hosts; hostname",
    ]);
    assert.equal(addr.code, 0, addr.stderr);
    assert.match(
      addr.stdout,
      new RegExp(`inet ${attachment.ips[0].replaceAll(".", "\\.")}`),
    );
    assert.match(
      addr.stdout,
      new RegExp(`^${ip.replaceAll(".", "\\.")}\\s+web\\n(.|\\n)*^web$`, "m"),
    );

    const client = await daemon.berth([
      "run",
      ...fifos,
      "--rm",
      "--cni",
      BUSYBOX,
      "client",
      ...wgetScript(`http://${ip}/`),
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, `${PAGE}\n`);
    assert.deepEqual(await attachmentsOf(daemon, "client"), []);

    assert.equal(await curl(port), `${PAGE}\n`);

    // The real ctr removes it: the daemon detaches and removes its netns.
    await removeContainer(daemon, "web", "ctr");
    assert.deepEqual(await networkLeftovers(net, [port]), []);
  });
});

Deno.test("a daemon SIGKILLed while attached containers run: after restart, orphans and stale attachments are released, a vanished netns is reported, and removal (berth ctr and the real ctr) leaves nothing", async () => {
  await withNetworkDaemon(async (daemon, net, restart) => {
    const port = freePort();
    await startWeb(daemon, ["-p", `${port}:80`]);
    const other = await daemon.berth([
      "run",
      "--fifo-dir",
      fifoDir(daemon),
      "-d",
      "--cni",
      BUSYBOX,
      "other",
      "sleep",
      "600",
    ]);
    assert.equal(other.code, 0, other.stderr);
    // A client that died between making a container's netns and the
    // container leaves an owner that never comes.
    await new Client({
      address: daemon.address,
      namespace: daemon.namespace,
    }).service(Network).attach({
      containerId: "ghost",
    });
    // A netns gone behind the daemon's back (as a reboot empties it).
    const lost = await daemon.berth(["netns", "create", "lost"]);
    assert.equal(lost.code, 0, lost.stderr);
    assert.equal((await daemon.berth(["network", "attach", "lost"])).code, 0);
    assert.equal((await run("umount", [lost.stdout.trim()])).code, 0);
    await Deno.remove(lost.stdout.trim());
    daemon = await restart();
    assert.deepEqual(await attachmentsOf(daemon, "ghost"), []);
    const stale = await daemon.berth([
      "network",
      "attachments",
      "-q",
      "netns==lost",
    ]);
    assert.equal(stale.stdout, "");
    const missing = await daemon.berth(["netns", "ls", "status==missing"]);
    assert.match(missing.stdout, /^lost\s.*\smissing\s/m);
    assert.equal((await daemon.berth(["netns", "rm", "lost"])).code, 0);
    const [attachment] = await attachmentsOf(daemon, "web");
    assert.equal(attachment.netns, "web");
    const ls = await daemon.berth(["netns", "ls", "-q"]);
    assert.equal(ls.stdout, "other\nweb\n");
    assert.equal(await curl(port), `${PAGE}\n`);
    await removeContainer(daemon, "web");
    await removeContainer(daemon, "other", "ctr");
    assert.deepEqual(await networkLeftovers(net, [port]), []);
  });
});

Deno.test("named netns: berth ctr netns create|ls|rm, a container joins with the real ctr --with-ns, in-use delete refused, ListNamespaces over Connect/JSON", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const created = await daemon.berth(["netns", "create", "shared", "team=a"]);
    assert.equal(created.code, 0, created.stderr);
    const path = created.stdout.trim();
    assert.equal(path, join(net.netnsDir, daemon.namespace, "shared"));

    const attached = await daemon.berth(["network", "attach", "shared"]);
    assert.equal(attached.code, 0, attached.stderr);
    const ip = /ips=([\d.]+)/.exec(attached.stdout)![1];
    const id = attached.stdout.split("\n")[0];
    const checked = await daemon.berth(["network", "check", id]);
    assert.equal(checked.code, 0, checked.stderr);

    const sleeper = await daemon.ctr([
      "run",
      "--fifo-dir",
      fifoDir(daemon),
      "-d",
      "--with-ns",
      `network:${path}`,
      BUSYBOX,
      "joined",
      "sleep",
      "600",
    ]);
    assert.equal(sleeper.code, 0, sleeper.stderr);
    const inside = await daemon.ctr([
      "tasks",
      "exec",
      "--fifo-dir",
      fifoDir(daemon),
      "--exec-id",
      "ip",
      "joined",
      "ip",
      "-o",
      "-4",
      "addr",
      "show",
      "eth0",
    ]);
    assert.equal(inside.code, 0, inside.stderr);
    assert.match(
      inside.stdout,
      new RegExp(`inet ${ip.replaceAll(".", "\\.")}/`),
    );

    const busy = await daemon.berth(["netns", "rm", "shared"]);
    assert.notEqual(busy.code, 0);
    assert.match(
      busy.stderr,
      /network namespace "shared" is in use by processes \d+/,
    );
    assert.match(
      (await daemon.berth(["netns", "ls", "-q"])).stdout,
      /^shared$/m,
    );

    // Over Connect/JSON on purpose: this test covers that protocol path.
    const listed = await callNetwork(daemon, "ListNamespaces", {
      filters: ["labels.team==a"],
    }) as { namespaces: { name: string; path: string; status: string }[] };
    assert.deepEqual(
      listed.namespaces.map((
        n: { name: string; path: string; status: string },
      ) => [n.name, n.path, n.status]),
      [["shared", path, "ready"]],
    );

    await removeContainer(daemon, "joined", "ctr");
    const attachedStill = await daemon.berth(["netns", "rm", "shared"]);
    assert.notEqual(attachedStill.code, 0);
    assert.match(attachedStill.stderr, /in use by attachments/);
    // CHECK notices what is gone: the interface, deleted behind its back
    // (and the forced removal's DEL copes with its absence).
    const gone = await run("nsenter", [
      `--net=${path}`,
      "ip",
      "link",
      "del",
      "eth0",
    ]);
    assert.equal(gone.code, 0, gone.stderr);
    const broken = await daemon.berth(["network", "check", id]);
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /plugin bridge CHECK: .*eth0/);
    const forced = await daemon.berth(["netns", "rm", "--force", "shared"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(await networkLeftovers(net), []);
  });
});

Deno.test("network events: /netns/* and /network/* reach subscribers, filterable by topic", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: berthCtrArgs(daemon, [
        "events",
        'topic~="^/(netns|network)/"',
      ]),
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    const out = collect(child.stdout);
    try {
      // The subscription is in place once a first event arrives.
      for (let i = 0; !/\/netns\/create/.test(out.text); i++) {
        assert.ok(i < 30, "no /netns/create reached the subscriber");
        await daemon.berth(["netns", "create", `warmup${i}`]);
        await out.waitFor(/\/netns\/create/, 1_000).catch(() => {});
      }
      const first = out.text;
      await daemon.berth(["netns", "create", "ev"]);
      await daemon.berth(["netns", "label", "ev", "k=v"]);
      const attached = await daemon.berth(["network", "attach", "ev"]);
      assert.equal(attached.code, 0, attached.stderr);
      assert.equal(
        (await daemon.berth(["netns", "rm", "--force", "ev"])).code,
        0,
      );
      await out.waitFor(/\/netns\/delete .*"name":"ev"/);
      // A warm-up's event may arrive late, after the first was seen.
      const lines = out.text.slice(first.length).trim().split("\n")
        .filter((line) => !line.includes("warmup"));
      assert.deepEqual(lines.map((l) => / (\/\S+) /.exec(l)?.[1]), [
        "/netns/create",
        "/netns/update",
        "/network/attach",
        "/network/detach",
        "/netns/delete",
      ]);
      assert.match(lines[2], new RegExp(`"network":"${net.name}"`));
      assert.match(lines[2], /"ips":\["10\./);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      for (
        const name of (await daemon.berth(["netns", "ls", "-q"])).stdout.split(
          "\n",
        ).filter(Boolean)
      ) {
        await daemon.berth(["netns", "rm", "--force", name]);
      }
    }
  });
});

Deno.test("tenants: each namespace sees its own netns and attachments; same names never share leases", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const ips: Record<string, string> = {};
    for (const tenant of ["t1", "t2"]) {
      const made = await daemon.berth(["-n", tenant, "netns", "create", "web"]);
      assert.equal(made.code, 0, made.stderr);
      assert.equal(made.stdout.trim(), join(net.netnsDir, tenant, "web"));
      const attached = await daemon.berth([
        "-n",
        tenant,
        "network",
        "attach",
        "web",
      ]);
      assert.equal(attached.code, 0, attached.stderr);
      ips[tenant] = /ips=([\d.]+)/.exec(attached.stdout)![1];
    }
    assert.notEqual(ips.t1, ips.t2);
    assert.equal(
      (await daemon.berth(["-n", "t1", "network", "attachments", "-q"])).stdout,
      `${net.name}/web/eth0\n`,
    );
    assert.equal((await daemon.berth(["netns", "ls", "-q"])).stdout, "");
    const leases = () =>
      [...Deno.readDirSync(net.ipamDir)].map((e) => e.name).filter((n) =>
        /^\d/.test(n)
      ).sort();
    assert.deepEqual(leases(), [ips.t1, ips.t2].sort());
    const removed = await daemon.berth([
      "-n",
      "t1",
      "netns",
      "rm",
      "-f",
      "web",
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(leases(), [ips.t2]);
    assert.equal(
      (await daemon.berth(["-n", "t2", "network", "attachments", "-q"])).stdout,
      `${net.name}/web/eth0\n`,
    );
    assert.equal(
      (await daemon.berth(["-n", "t2", "netns", "rm", "-f", "web"])).code,
      0,
    );
    assert.deepEqual(await networkLeftovers(net), []);
  });
});

Deno.test("tasks rm parks a container's network (nothing held), its next task attaches it again, containers rm forgets it", async () => {
  await withNetworkDaemon(async (daemon, net) => {
    const port = freePort();
    await startWeb(daemon, ["--cni", "-p", `${port}:80`]);
    assert.equal(await curl(port), `${PAGE}\n`);
    await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "web"]);
    const rm = await daemon.ctr(["tasks", "rm", "-f", "web"]);
    assert.equal(rm.code, 0, rm.stderr);
    const [parked] = await attachmentsOf(daemon, "web");
    assert.equal(parked.state, "parked");
    assert.deepEqual(parked.ips, []);
    // Only its netns is left, for its next task.
    const netnsPath = join(net.netnsDir, daemon.namespace, "web");
    assert.deepEqual(await networkLeftovers(net, [port]), [
      `netns files: ${netnsPath}`,
      `netns mounts: ${netnsPath}`,
    ]);

    const started = await daemon.berth([
      "tasks",
      "start",
      "--fifo-dir",
      fifoDir(daemon),
      "-d",
      "web",
    ]);
    assert.equal(started.code, 0, started.stderr);
    const [again] = await attachmentsOf(daemon, "web");
    assert.equal(again.state, "attached");
    assert.equal(again.ips.length, 1);
    assert.equal(await curl(port), `${PAGE}\n`);

    await removeContainer(daemon, "web", "ctr");
    assert.deepEqual(await attachmentsOf(daemon, "web"), []);
    assert.deepEqual(await networkLeftovers(net, [port]), []);
  });
});

/**
 * A plugin that records each call's command and CNI_ARGS beside itself and
 * adds nothing (the chain's next plugin makes the interface).
 */
const ARGS_RECORDER = `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND $CNI_ARGS" >> "$(dirname "$0")/calls"
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
ADD) echo '{"cniVersion":"1.0.0"}' ;;
esac
`;

Deno.test("an attachment's CNI_ARGS go with it: parked and added again, checked and deleted after a restart", async () => {
  await withNetworkDaemon(async (daemon, net, restart) => {
    const namespace = daemon.namespace;
    await Deno.mkdir(net.binDir, { recursive: true });
    await Deno.writeTextFile(join(net.binDir, "argrec"), ARGS_RECORDER, {
      mode: 0o755,
    });
    // The daemon's default network: the recorder, then a bridge whose
    // host-local IPAM takes the address CNI_ARGS asks for (IP=…).
    await Deno.mkdir(net.confDir, { recursive: true });
    await Deno.writeTextFile(
      join(net.confDir, `10-${net.name}.conflist`),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: net.name,
        plugins: [{ type: "argrec" }, {
          type: "bridge",
          bridge: net.bridge,
          isGateway: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: `${net.prefix}.0.0/16` }]],
            dataDir: join(net.ipamDir, ".."),
          },
        }],
      }),
    );
    const ip = `${net.prefix}.7.7`;
    const netns = await daemon.berth(["netns", "create", "argweb"]);
    assert.equal(netns.code, 0, netns.stderr);
    const attached = await daemon.berth([
      "network",
      "attach",
      "argweb",
      "--container",
      "argweb",
      "--arg",
      `IP=${ip}`,
    ]);
    assert.equal(attached.code, 0, attached.stderr);
    assert.match(attached.stdout, new RegExp(`^ips=${ip}/16$`, "m"));
    const made = await daemon.ctr([
      "run",
      "--fifo-dir",
      fifoDir(daemon),
      "-d",
      "--with-ns",
      `network:${netns.stdout.trim()}`,
      BUSYBOX,
      "argweb",
      "sleep",
      "600",
    ]);
    assert.equal(made.code, 0, made.stderr);
    // The task goes (the chain's DEL, parked) and comes back (ADD again).
    await daemon.ctr(["tasks", "kill", "-s", "SIGKILL", "argweb"]);
    const rm = await daemon.ctr(["tasks", "rm", "-f", "argweb"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await attachmentsOf(daemon, "argweb"))[0].state, "parked");
    const started = await daemon.ctr(["tasks", "start", "-d", "argweb"]);
    assert.equal(started.code, 0, started.stderr);
    const [again] = await attachmentsOf(daemon, "argweb");
    assert.deepEqual([again.state, again.ips], ["attached", [`${ip}/16`]]);
    assert.deepEqual(again.args, { IP: ip });

    daemon = await restart();
    await new Client({ address: daemon.address, namespace }).service(Network)
      .check({ id: again.id });
    await removeContainer(daemon, "argweb", "ctr");
    assert.deepEqual(await attachmentsOf(daemon, "argweb"), []);
    assert.equal((await daemon.berth(["netns", "rm", "argweb"])).code, 0);
    const calls = (await Deno.readTextFile(join(net.binDir, "calls")))
      .split("\n").filter((line) => line && !line.startsWith("VERSION"));
    assert.deepEqual(
      calls,
      [
        "ADD",
        "DEL",
        "ADD",
        "CHECK",
        "DEL",
      ].map((command) => `${command} IgnoreUnknown=1;IP=${ip}`),
    );
    assert.deepEqual(await networkLeftovers(net), []);
  }, { testPlugins: true });
});
