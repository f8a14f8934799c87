import assert from "node:assert/strict";
import { join } from "node:path";
import { CniRuntime } from "./runtime.ts";
import { PluginError, PluginNotFoundError } from "./exec.ts";
import { loadNetworkConfigs } from "./config.ts";

// Scripted plugins: each logs its command, environment and stdin, then
// answers as a CNI plugin would. They test the runtime's side of the
// protocol; the real plugins run in tests/network_test.ts.
const RECORDER = `#!/bin/sh
input=$(cat)
printf '%s %s %s %s %s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_ARGS" "$input" >> "$LOG_DIR/calls"
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
ADD) echo '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.'"$STEP"'/24"}]}' ;;
esac
`;

async function withPlugins(
  fn: (dir: string, runtime: CniRuntime) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const bin = join(dir, "bin");
  await Deno.mkdir(bin);
  const plugin = async (name: string, body: string) => {
    await Deno.writeTextFile(join(bin, name), body, { mode: 0o755 });
  };
  await plugin(
    "first",
    RECORDER.replace("$STEP", "1").replace('"$LOG_DIR', `"${dir}`),
  );
  await plugin(
    "second",
    RECORDER.replace("$STEP", "2").replace('"$LOG_DIR', `"${dir}`),
  );
  await plugin(
    "failing",
    `#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"supportedVersions":["1.0.0"]}'; exit 0; fi
if [ "$CNI_COMMAND" = DEL ]; then echo DEL >> "${dir}/calls"; exit 0; fi
echo "stderr says why" >&2
echo '{"cniVersion":"1.0.0","code":11,"msg":"no luck","details":"really"}'
exit 1
`,
  );
  await plugin(
    "slow",
    `#!/bin/sh
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"supportedVersions":["1.0.0"]}'; exit 0; fi
sleep 30 &
echo $! > "${dir}/slow-child"
wait
`,
  );
  const runtime = new CniRuntime({
    confDir: join(dir, "conf"),
    binDirs: [join(dir, "nothing-here"), bin],
    cacheDir: join(dir, "cache"),
    timeoutMs: 500,
    defaultNetwork: {
      name: "dflt",
      bridge: "unusedbr0",
      subnet: "10.250.0.0/16",
      ipamDataDir: join(dir, "ipam"),
    },
  });
  try {
    await fn(dir, runtime);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function conflist(dir: string, name: string, plugins: unknown[]) {
  await Deno.mkdir(join(dir, "conf"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "conf", `${name}.conflist`),
    JSON.stringify({ cniVersion: "1.0.0", name, plugins }),
  );
}

async function calls(dir: string): Promise<string[]> {
  return (await Deno.readTextFile(join(dir, "calls"))).trim().split("\n")
    .filter((line) => !line.startsWith("VERSION"));
}

Deno.test("cni: the default network is written only into an empty conf dir", async () => {
  await withPlugins(async (dir, runtime) => {
    assert.deepEqual(runtime.networks().networks.map((n) => n.name), ["dflt"]);
    const written = runtime.network("dflt");
    assert.deepEqual(written.plugins.map((p) => p.type), [
      "bridge",
      "portmap",
      "firewall",
      "loopback",
    ]);
    await Deno.remove(join(dir, "conf"), { recursive: true });
    await conflist(dir, "mine", [{ type: "first" }]);
    assert.deepEqual(runtime.networks().networks.map((n) => n.name), ["mine"]);
  });
});

Deno.test("cni: ADD runs the chain with env, prevResult and runtimeConfig for declared capabilities only; CHECK and DEL run it from the cache, with ADD's arguments", async () => {
  await withPlugins(async (dir, runtime) => {
    await conflist(dir, "chain", [
      { type: "first", capabilities: { portMappings: true } },
      { type: "second" },
    ]);
    const rt = {
      containerId: "c1",
      netns: "/proc/self/ns/net",
      ifname: "eth1",
      args: { K: "V" },
      capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2 }] },
    };
    const result = await runtime.add(runtime.network("chain"), rt);
    assert.deepEqual(result.ips, [{ address: "10.0.0.2/24" }]);
    // The conf dir changes; CHECK and DEL still run what ADD ran, with
    // its CNI_ARGS and capabilities, though their caller no longer has them.
    await Deno.remove(join(dir, "conf"), { recursive: true });
    await conflist(dir, "other", [{ type: "second" }]);
    const bare = { containerId: "c1", netns: rt.netns, ifname: "eth1" };
    await runtime.check("chain", bare);
    await runtime.del("chain", bare);
    const log = await calls(dir);
    assert.equal(log.length, 6);
    const [add1, add2, check1, check2, del2, del1] = log.map((line) => {
      const [command, id, ifname, args, ...json] = line.split(" ");
      return { command, id, ifname, args, config: JSON.parse(json.join(" ")) };
    });
    assert.deepEqual(
      [add1, add2, check1, check2, del2, del1].map((c) => c.command),
      ["ADD", "ADD", "CHECK", "CHECK", "DEL", "DEL"],
    );
    for (const call of [check1, check2, del2, del1]) {
      assert.equal(call.args, "IgnoreUnknown=1;K=V", call.command);
    }
    assert.deepEqual(check1.config.runtimeConfig, add1.config.runtimeConfig);
    assert.deepEqual(del1.config.runtimeConfig, add1.config.runtimeConfig);
    assert.equal(add1.id, "c1");
    assert.equal(add1.ifname, "eth1");
    assert.equal(add1.args, "IgnoreUnknown=1;K=V");
    assert.equal(add1.config.name, "chain");
    assert.deepEqual(add1.config.runtimeConfig, {
      portMappings: [{ hostPort: 1, containerPort: 2 }],
    });
    assert.equal(add1.config.prevResult, undefined);
    assert.equal(add2.config.runtimeConfig, undefined);
    assert.deepEqual(add2.config.prevResult.ips, [{ address: "10.0.0.1/24" }]);
    assert.equal(del2.config.plugins, undefined);
    assert.deepEqual(del1.config.prevResult.ips, [{ address: "10.0.0.2/24" }]);
    assert.deepEqual([...Deno.readDirSync(join(dir, "cache", "results"))], []);
  });
});

Deno.test("cni: a failing plugin's error carries its code, message and stderr; the chain is deleted", async () => {
  await withPlugins(async (dir, runtime) => {
    await conflist(dir, "bad", [{ type: "first" }, { type: "failing" }]);
    const err = await runtime.add(runtime.network("bad"), {
      containerId: "c2",
      netns: "/proc/self/ns/net",
      ifname: "eth0",
    }).catch((e) => e);
    assert.ok(err instanceof PluginError);
    assert.equal(err.code, 11);
    assert.equal(
      err.message,
      "plugin failing ADD: no luck; really (stderr: stderr says why)",
    );
    const log = await calls(dir);
    assert.match(log.at(-2)!, /^DEL$/);
    assert.match(log.at(-1)!, /^DEL c2 eth0/);
    assert.deepEqual([...Deno.readDirSync(join(dir, "cache", "results"))], []);
  });
});

Deno.test("cni: a plugin past its timeout is killed; a missing plugin is named with the dirs searched", async () => {
  await withPlugins(async (dir, runtime) => {
    await conflist(dir, "slow", [{ type: "slow" }]);
    await assert.rejects(
      runtime.add(runtime.network("slow"), {
        containerId: "c3",
        netns: "/proc/self/ns/net",
        ifname: "eth0",
      }),
      /plugin slow ADD: timed out after 500 ms/,
    );
    // Its children went with it.
    const child = Number(await Deno.readTextFile(join(dir, "slow-child")));
    let state = "gone";
    try {
      state =
        (await Deno.readTextFile(`/proc/${child}/stat`)).split(") ")[1][0];
    } catch { /* reaped */ }
    assert.ok(state === "gone" || state === "Z", `child state ${state}`);
    await conflist(dir, "missing", [{ type: "first" }, { type: "absent" }]);
    const err = await runtime.preflight(runtime.network("missing")).catch((
      e,
    ) => e);
    assert.ok(err instanceof PluginNotFoundError);
    assert.match(
      err.message,
      /CNI plugin "absent" not found in .*nothing-here, .*bin/,
    );
  });
});

Deno.test("cni: broken files are reported, .conf files become one-plugin lists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "10-a.conf"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "a",
        type: "bridge",
        bridge: "x",
      }),
    );
    await Deno.writeTextFile(join(dir, "20-b.conflist"), "{");
    await Deno.writeTextFile(
      join(dir, "30-c.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "c", plugins: [] }),
    );
    const { networks, errors } = loadNetworkConfigs(dir);
    assert.deepEqual(networks.map((n) => [n.name, n.plugins]), [[
      "a",
      [{ type: "bridge", bridge: "x" }],
    ]]);
    assert.deepEqual(errors.map((e) => e.source.split("/").pop()), [
      "20-b.conflist",
      "30-c.conflist",
    ]);
    assert.match(errors[1].message, /"plugins" must be a non-empty list/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
