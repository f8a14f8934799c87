/**
 * Snapshots end to end with the real `ctr`: prepare, mount with the
 * printed command, commit, list, inspect, remove — compared with a real
 * containerd where installed.
 */
import assert from "node:assert/strict";
import {
  collectGarbage,
  normalizeCtr,
  run,
  startContainerd,
  startDaemon,
  type TestContainerd,
  type TestDaemon,
  watchEvents,
} from "./_harness.ts";

async function mountPrinted(command: string) {
  const r = await run("sh", ["-c", command]);
  assert.equal(r.code, 0, `${command}: ${r.stderr}`);
}

async function umount(target: string) {
  const r = await run("umount", [target]);
  assert.equal(r.code, 0, r.stderr);
}

async function snapshotWorkflow(
  side: TestDaemon | TestContainerd,
  root: string,
  dir: string,
): Promise<string[]> {
  const target = `${dir}/mnt`;
  await Deno.mkdir(target, { recursive: true });
  const out: string[] = [];
  const ctr = async (...args: string[]) => {
    const r = await side.ctr(args);
    assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
    out.push(normalizeCtr(r.stdout, [root, target]));
    return r.stdout;
  };
  try {
    await ctr("snapshots", "prepare", "base");
    const baseMount = await ctr("snapshots", "mounts", target, "base");
    await mountPrinted(baseMount);
    await Deno.writeTextFile(`${target}/hello`, "hello\n");
    await Deno.mkdir(`${target}/dir`);
    await Deno.writeTextFile(`${target}/dir/gone`, "x");
    await umount(target);
    await ctr("snapshots", "commit", "base-c", "base");
    await ctr("snapshots", "prepare", "--target", target, "child", "base-c");
    const childMount = await ctr("snapshots", "mounts", target, "child");
    await mountPrinted(childMount);
    assert.equal(await Deno.readTextFile(`${target}/hello`), "hello\n");
    await Deno.writeTextFile(`${target}/new`, "1234567890");
    await Deno.remove(`${target}/dir/gone`);
    await umount(target);
    await ctr("snapshots", "view", "look", "base-c");
    await ctr("snapshots", "ls");
    const info = JSON.parse(await ctr("snapshots", "info", "child"));
    assert.equal(info.Kind, "Active");
    assert.equal(info.Parent, "base-c");
    await ctr("snapshots", "usage", "base-c");
    await ctr("snapshots", "tree");
    await ctr("snapshots", "label", "base-c", "team=a");
    // ctr makes what it prepares and commits a root, not what it views:
    // a collection could take the view once the child is removed.
    await ctr("snapshots", "label", "look", "containerd.io/gc.root=test");
    const bad = await side.ctr(["snapshots", "rm", "base-c"]);
    assert.notEqual(bad.code, 0);
    out.push(normalizeCtr(bad.stderr.replace(/^.*?ctr: /s, ""), [root]));
    const dup = await side.ctr(["snapshots", "prepare", "child", "base-c"]);
    assert.notEqual(dup.code, 0);
    out.push(normalizeCtr(dup.stderr.replace(/^.*?ctr: /s, ""), [root]));
    const missing = await side.ctr(["snapshots", "prepare", "orphan", "nope"]);
    assert.notEqual(missing.code, 0);
    await ctr("snapshots", "rm", "child", "look");
    await ctr("snapshots", "rm", "base-c");
    await ctr("snapshots", "ls");
  } finally {
    await run("umount", [target]);
  }
  return out;
}

Deno.test("ctr snapshots prepare|mounts|commit|ls|info|usage|tree|label|rm match containerd", async () => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const ours = await snapshotWorkflow(berth, berth.root, berth.dir);
  if (containerd) {
    const theirs = await snapshotWorkflow(
      containerd,
      containerd.root,
      containerd.dir,
    );
    assert.deepEqual(ours, theirs);
  }
  // The removed snapshots' bytes go with the next collection.
  await collectGarbage(berth);
  const dir = `${berth.root}/io.containerd.snapshotter.v1.overlayfs/snapshots`;
  const left: string[] = [];
  for await (const entry of Deno.readDir(dir)) left.push(entry.name);
  assert.deepEqual(left, []);
});

Deno.test("snapshots are per namespace", async () => {
  await using berth = await startDaemon();
  assert.equal(
    (await berth.ctr(["-n", "a", "snapshots", "prepare", "s1"])).code,
    0,
  );
  const other = await berth.ctr(["-n", "b", "snapshots", "ls"]);
  assert.equal(other.stdout.trim(), "KEY PARENT KIND".replace(/ /g, " "));
  const info = await berth.ctr(["-n", "b", "snapshots", "info", "s1"]);
  assert.notEqual(info.code, 0);
  assert.match(info.stderr, /snapshot s1 does not exist: not found/);
  assert.equal(
    (await berth.ctr(["-n", "b", "snapshots", "prepare", "s1"])).code,
    0,
  );
  const ns = await berth.ctr(["namespaces", "rm", "a"]);
  assert.match(
    ns.stderr,
    /must be empty, but it still has snapshots on "overlayfs" snapshotter/,
  );
});

Deno.test("a snapshot without a root or lease is collected; the native snapshotter works", async () => {
  await using berth = await startDaemon();
  const { Client } = await import("../src/client/mod.ts");
  const { Snapshots } = await import(
    "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts"
  );
  const snapshots = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Snapshots);
  await snapshots.prepare({ snapshotter: "native", key: "loose" });
  const mounts = await snapshots.prepare({
    snapshotter: "native",
    key: "kept",
    labels: { "containerd.io/gc.root": "x" },
  });
  assert.equal(mounts.mounts[0].type, "bind");
  // A collection takes the unreferenced one.
  await collectGarbage(berth);
  const keys: string[] = [];
  for await (const res of snapshots.list({ snapshotter: "native" })) {
    keys.push(...res.info.map((info) => info.name));
  }
  assert.deepEqual(keys, ["kept"]);
});

Deno.test("snapshot events: prepare, commit and remove are published", async () => {
  await using berth = await startDaemon();
  // Subscribed before the first call (a late ctr events missed the prepare).
  await using out = await watchEvents(berth.address);
  for (
    const args of [["prepare", "s0"], ["commit", "c0", "s0"], ["rm", "c0"]]
  ) {
    const done = await berth.ctr(["snapshots", ...args]);
    assert.equal(done.code, 0, done.stderr);
  }
  await out.waitFor(/\/snapshot\/remove/, 30_000);
  const ns = berth.namespace;
  assert.match(
    out.text,
    new RegExp(`${ns} /snapshot/prepare \\{"key":"s0"\\}`),
  );
  assert.match(
    out.text,
    new RegExp(`${ns} /snapshot/commit \\{"key":"s0","name":"c0"\\}`),
  );
  assert.match(out.text, new RegExp(`${ns} /snapshot/remove \\{"key":"c0"\\}`));
});
