/**
 * The foundation end to end: a real daemon on temporary paths, driven by
 * the real `ctr` (Debian's containerd package), by `berth ctr` and by curl
 * speaking the Connect protocol.
 */
import assert from "node:assert/strict";
import { berth, berthCtrArgs, collect, run, startDaemon } from "./_harness.ts";
import { VERSION } from "../src/version.ts";
import { DAEMON_V8_FLAGS } from "../src/daemon/run.ts";

Deno.test("ctr version reports berth's version and a persistent UUID", async () => {
  await using daemon = await startDaemon();
  const first = await daemon.ctr(["version"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`Server:\\n  Version:  ${VERSION}`));
  const uuid = first.stdout.match(/UUID: ([0-9a-f-]{36})/)?.[1];
  assert.ok(uuid, first.stdout);

  assert.equal(await daemon.stop(), 0);
  await using again = await startDaemon({ dir: daemon.dir });
  const second = await again.berth(["version"]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`UUID: ${uuid}`));
});

Deno.test("ctr plugins ls lists every component", async () => {
  await using daemon = await startDaemon();
  const listed = await daemon.ctr(["plugins", "ls"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^TYPE\s+ID\s+PLATFORMS\s+STATUS/);
  for (const id of ["namespaces", "events", "introspection", "version"]) {
    assert.match(
      listed.stdout,
      new RegExp(`io\\.containerd\\.grpc\\.v1\\s+${id}\\s+-\\s+ok`),
    );
  }
  assert.match(
    listed.stdout,
    /io\.containerd\.runtime\.v2\s+task\s+linux\/\w+\s+ok/,
  );
  const filtered = await daemon.ctr(["plugins", "ls", "-q", "id==namespaces"]);
  assert.equal(filtered.stdout, "namespaces\n");
  const bad = await daemon.ctr(["plugins", "ls", "id==="]);
  assert.notEqual(bad.code, 0);
  const ours = await daemon.berth([
    "plugins",
    "ls",
    "type==io.containerd.grpc.v1",
  ]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.doesNotMatch(ours.stdout, /io\.containerd\.metadata\.v1/);
});

Deno.test("told no namespace, ctr and berth ctr work in default", async () => {
  await using daemon = await startDaemon();
  // The harness's own calls name the test's namespace; these name none
  // (and the harness took CONTAINERD_NAMESPACE and BERTH_NAMESPACE away).
  const theirs = await run("ctr", [
    "--address",
    daemon.address,
    "leases",
    "create",
    "--id",
    "from-ctr",
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  const ours = await run(
    Deno.execPath(),
    berthCtrArgs(daemon.address, ["leases", "create", "--id", "from-berth"]),
  );
  assert.equal(ours.code, 0, ours.stderr);
  const listed = await daemon.ctr(["-n", "default", "leases", "ls", "-q"]);
  assert.deepEqual(listed.stdout.trim().split("\n").sort(), [
    "from-berth",
    "from-ctr",
  ]);
  assert.equal((await daemon.ctr(["leases", "ls", "-q"])).stdout, "");
});

Deno.test("ctr namespaces create, ls, label and remove", async () => {
  await using daemon = await startDaemon();
  let r = await daemon.ctr(["namespaces", "create", "team-a", "owner=alice"]);
  assert.equal(r.code, 0, r.stderr);
  r = await daemon.ctr(["namespaces", "create", "team-a"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /namespace "team-a": already exists/);
  r = await daemon.ctr([
    "namespaces",
    "label",
    "team-a",
    "tier=gold",
    "owner=",
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = await daemon.ctr(["namespaces", "ls"]);
  assert.match(r.stdout, /^NAME\s+LABELS\s*\nteam-a\s+tier=gold\s*\n$/);
  r = await daemon.berth(["namespaces", "ls", "--json"]);
  assert.deepEqual(JSON.parse(r.stdout), [{
    name: "team-a",
    labels: { tier: "gold" },
  }]);
  r = await daemon.ctr(["namespaces", "create", "bad/name"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /invalid argument/);
  r = await daemon.ctr(["namespaces", "rm", "team-a"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "team-a\n");
  r = await daemon.ctr(["namespaces", "ls", "-q"]);
  assert.equal(r.stdout, "");
  r = await daemon.berth(["namespaces", "rm", "ghost"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /namespace "ghost": not found/);
});

Deno.test("ctr events shows namespace events made from another client", async () => {
  await using daemon = await startDaemon();
  const events = new Deno.Command("ctr", {
    args: ["--address", daemon.address, "events", 'topic~="/namespaces/"'],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = collect(events.stdout);
  try {
    // The subscription starts asynchronously: make events until a create
    // and a delete show (one that starts between the two sees only the
    // delete).
    const seen = () =>
      /\/namespaces\/create/.test(out.text) &&
      /\/namespaces\/delete/.test(out.text);
    for (let n = 0; !seen() && n < 30; n++) {
      await daemon.berth(["namespaces", "create", `ev${n}`, "k=v"]);
      await daemon.berth(["namespaces", "rm", `ev${n}`]);
      await out.waitFor(/\/namespaces\/delete/, 500).catch(() => {});
    }
    assert.match(
      out.text,
      /\+0000 UTC ev\d+ \/namespaces\/create \{"name":"ev\d+","labels":\{"k":"v"\}\}/,
    );
    assert.match(out.text, /ev\d+ \/namespaces\/delete \{"name":"ev\d+"\}/);
  } finally {
    events.kill("SIGTERM");
    await events.status;
  }
});

Deno.test("berth ctr events filters by topic and by event field", async () => {
  await using daemon = await startDaemon();
  const child = new Deno.Command(Deno.execPath(), {
    args: berthCtrArgs(daemon, [
      "events",
      'topic=="/namespaces/create",event.name~="^keep"',
    ]),
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const out = collect(child.stdout);
  try {
    for (let n = 0; !/keep/.test(out.text) && n < 30; n++) {
      await daemon.ctr(["namespaces", "create", `drop${n}`]);
      await daemon.ctr(["namespaces", "create", `keep${n}`]);
      await daemon.ctr(["namespaces", "rm", `keep${n}`]);
      await out.waitFor(/keep/, 500).catch(() => {});
    }
    assert.match(out.text, /keep\d+ \/namespaces\/create/);
    assert.doesNotMatch(out.text, /drop|\/namespaces\/delete/);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});

Deno.test("curl speaks Connect with JSON on the same socket", async () => {
  await using daemon = await startDaemon();
  const r = await run("curl", [
    "-sS",
    "--unix-socket",
    daemon.address,
    "-H",
    "content-type: application/json",
    "-d",
    "{}",
    "http://localhost/containerd.services.version.v1.Version/Version",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { version: VERSION, revision: "dev" });

  const missing = await run("curl", [
    "-sS",
    "--unix-socket",
    daemon.address,
    "-H",
    "content-type: application/json",
    "-d",
    '{"topic":"/x"}',
    "http://localhost/containerd.services.events.v1.Events/Publish",
  ]);
  assert.equal(JSON.parse(missing.stdout).code, "failed_precondition");
  assert.match(JSON.parse(missing.stdout).message, /namespace is required/);
});

Deno.test("the socket is 0660 and removed on SIGTERM", async () => {
  await using daemon = await startDaemon();
  const info = await Deno.stat(daemon.address);
  assert.equal(info.mode! & 0o777, 0o660);
  assert.equal(await daemon.stop(), 0);
  await assert.rejects(() => Deno.stat(daemon.address), Deno.errors.NotFound);
});

Deno.test("a second daemon on the same root refuses to start", async () => {
  await using daemon = await startDaemon();
  const second = await berth([
    "daemon",
    "--root",
    daemon.root,
    "--state",
    `${daemon.dir}/state2`,
    "--address",
    `${daemon.dir}/state2/b.sock`,
    "--config",
    "/nonexistent",
  ]);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, /another berth daemon is running on root/);
  const still = await daemon.ctr(["version"]);
  assert.equal(still.code, 0);
});

Deno.test("a bad config file is refused with the key named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-test-" });
  try {
    await Deno.writeTextFile(`${dir}/c.toml`, "[grpc]\nadress = 'x'\n");
    const r = await berth([
      "daemon",
      "--config",
      `${dir}/c.toml`,
      "--root",
      `${dir}/r`,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown setting grpc.adress/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("berth config default prints every setting", async () => {
  const r = await berth(["config", "default"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^root = "\/var\/lib\/berth"$/m);
  assert.match(r.stdout, /^address = "\/run\/berth\/berth.sock"$/m);
});

Deno.test("the daemon restarts itself in place with its V8 flags", async () => {
  // A young generation capped small keeps the daemon's RSS near a fresh
  // one's after many runs (see DAEMON_V8_FLAGS); V8 reads it only at start.
  await using daemon = await startDaemon();
  const environ = await Deno.readTextFile(
    `/proc/${daemon.process.pid}/environ`,
  );
  assert.ok(
    environ.split("\0").includes(`DENO_V8_FLAGS=${DAEMON_V8_FLAGS}`),
    "the started process itself runs with the flags",
  );
  const version = await daemon.ctr(["version"]);
  assert.equal(version.code, 0, version.stderr);
});
