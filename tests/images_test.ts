/**
 * Images end to end with the real `ctr`: pulls from a `docker-registry` on
 * loopback through berth's primitives (Content.Write, Diff.Apply,
 * Snapshots), then ls, check, tag, label, rm, export (into containerd),
 * import (from containerd), push, and registries with basic and token auth.
 */
import assert from "node:assert/strict";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { mountAll, unmountRecursive } from "../src/mount/mod.ts";
import { Client } from "../src/client/mod.ts";
import {
  normalizeCtr,
  run,
  startContainerd,
  startDaemon,
  type TestDaemon,
} from "./_harness.ts";
import { buildImage, MULTILAYER_EXPECT } from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

/** Looks into the image's unpacked top snapshot through a view. */
async function withRootfs<T>(
  daemon: TestDaemon,
  image: string,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const config = await daemon.ctr(["images", "ls"]);
  assert.match(config.stdout, new RegExp(image.replace(/[.:/]/g, "\\$&")));
  const snapshots = new Client({
    address: daemon.address,
    namespace: daemon.namespace,
  }).service(Snapshots);
  // The top snapshot is the one no other snapshot has as parent.
  const infos = [];
  for await (const res of snapshots.list({ snapshotter: "overlayfs" })) {
    infos.push(...res.info);
  }
  const parents = new Set(infos.map((info) => info.parent));
  const top = infos.find((info) => !parents.has(info.name) && info.kind === 3);
  assert.ok(top, "an unpacked snapshot");
  const key = `view-${crypto.randomUUID()}`;
  const view = await snapshots.view({
    snapshotter: "overlayfs",
    key,
    parent: top.name,
    // A GC root, or a collection running meanwhile would take it.
    labels: { "containerd.io/gc.root": new Date().toISOString() },
  });
  const target = await Deno.makeTempDir({ dir: daemon.dir });
  await mountAll(view.mounts, target);
  try {
    return await fn(target);
  } finally {
    await unmountRecursive(target);
    await snapshots.remove({ snapshotter: "overlayfs", key });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("ctr pulls busybox through berth's primitives and manages it like containerd", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  const pushed = await pushLayout(registry, busybox.layout, "busybox:latest");
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const ref = `${registry.host}/busybox:latest`;
  const sides = containerd ? [berth, containerd] : [berth];
  const outputs: string[][] = [];
  for (const side of sides) {
    const pull = await side.ctr(["images", "pull", "--plain-http", ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const out: string[] = [];
    const ctr = async (...args: string[]) => {
      const r = await side.ctr(args);
      assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
      out.push(normalizeCtr(r.stdout.replaceAll(registry.host, "REGISTRY")));
    };
    await ctr("images", "ls");
    await ctr("images", "check");
    await ctr("images", "tag", ref, "example.com/bb:v2");
    await ctr("images", "label", "example.com/bb:v2", "team=x");
    await ctr("images", "ls", "-q");
    await ctr("images", "rm", "example.com/bb:v2");
    await ctr("images", "ls", "-q");
    outputs.push(out);
  }
  if (outputs.length === 2) assert.deepEqual(outputs[0], outputs[1]);
  assert.match(outputs[0][0], new RegExp(pushed.digest));
  assert.match(outputs[0][1], /complete \(2\/2\).*true/);
  await withRootfs(berth, ref, async (root) => {
    const sh = await run("chroot", [
      root,
      "/bin/sh",
      "-c",
      "echo hello from busybox",
    ]);
    assert.equal(sh.stdout, "hello from busybox\n", sh.stderr);
  });
});

Deno.test("ctr pulls a 200 MB multi-layer image with whiteouts and opaque dirs", async () => {
  await using registry = await startRegistry();
  const image = await buildImage("multilayer");
  await pushLayout(registry, image.layout, "multi:latest");
  await using berth = await startDaemon();
  const ref = `${registry.host}/multi:latest`;
  const pull = await berth.ctr(["images", "pull", "--plain-http", ref]);
  assert.equal(pull.code, 0, pull.stderr);
  const check = await berth.ctr(["images", "check"]);
  assert.match(
    check.stdout,
    new RegExp(
      `complete \\(${image.layers.length + 1}/${image.layers.length + 1}\\)`,
    ),
  );
  await withRootfs(berth, ref, async (root) => {
    for (const path of MULTILAYER_EXPECT.present) {
      assert.ok(await exists(`${root}/${path}`), `${path} present`);
    }
    for (const path of MULTILAYER_EXPECT.absent) {
      assert.ok(!(await exists(`${root}/${path}`)), `${path} absent`);
    }
  });
});

Deno.test("ctr pulls one platform of a multi-platform index, or all", async () => {
  await using registry = await startRegistry();
  const image = await buildImage("multiplatform");
  await pushLayout(registry, image.layout, "multi-arch:latest");
  await using berth = await startDaemon();
  const ref = `${registry.host}/multi-arch:latest`;
  const host = await berth.ctr(["images", "pull", "--plain-http", ref]);
  assert.equal(host.code, 0, host.stderr);
  const foreign = image.manifests.find((m) =>
    m.descriptor.digest !== image.manifest.descriptor.digest
  )!;
  const blobs = async () => (await berth.ctr(["content", "ls", "-q"])).stdout;
  assert.match(await blobs(), new RegExp(image.manifest.config.digest));
  assert.doesNotMatch(await blobs(), new RegExp(foreign.config.digest));
  const arm = await berth.ctr([
    "images",
    "pull",
    "--plain-http",
    "--platform",
    `${foreign.platform.os}/${foreign.platform.architecture}`,
    ref,
  ]);
  assert.equal(arm.code, 0, arm.stderr);
  assert.match(await blobs(), new RegExp(foreign.config.digest));
  const all = await berth.ctr([
    "images",
    "pull",
    "--plain-http",
    "--all-platforms",
    ref,
  ]);
  assert.equal(all.code, 0, all.stderr);
  const check = await berth.ctr(["images", "check"]);
  assert.match(check.stdout, /complete \(\d+\/\d+\)/);
  assert.doesNotMatch(check.stdout, /incomplete/);
  const ls = await berth.ctr(["images", "ls"]);
  assert.match(ls.stdout, /linux\/amd64,linux\/arm64/);
  const missing = await berth.ctr([
    "images",
    "pull",
    "--plain-http",
    "--platform",
    "linux/s390x",
    ref,
  ]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no match for platform in manifest/);
});

Deno.test("export goes into containerd, containerd's export comes into berth, push reaches the registry", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const ref = `${registry.host}/busybox:latest`;
  assert.equal(
    (await berth.ctr(["images", "pull", "--plain-http", ref])).code,
    0,
  );
  const archive = `${berth.dir}/berth-export.tar`;
  const exported = await berth.ctr(["images", "export", archive, ref]);
  assert.equal(exported.code, 0, exported.stderr);
  if (containerd) {
    const imported = await containerd.ctr(["images", "import", archive]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(
      (await containerd.ctr(["images", "ls", "-q"])).stdout,
      /busybox:latest/,
    );
    const theirs = `${berth.dir}/containerd-export.tar`;
    assert.equal(
      (await containerd.ctr(["images", "export", theirs, ref])).code,
      0,
    );
    assert.equal((await berth.ctr(["images", "rm", "--sync", ref])).code, 0);
    const back = await berth.ctr(["images", "import", theirs]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      (await berth.ctr(["images", "ls", "-q"])).stdout,
      /busybox:latest/,
    );
  }
  const target = `${registry.host}/pushed/busybox:copy`;
  assert.equal((await berth.ctr(["images", "tag", ref, target])).code, 0);
  const push = await berth.ctr(["images", "push", "--plain-http", target]);
  assert.equal(push.code, 0, push.stderr);
  const inspect = await run("skopeo", [
    "inspect",
    "--tls-verify=false",
    `docker://${target}`,
  ]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).Digest, busybox.digest);
});

Deno.test("ctr pulls with basic auth and with token auth", async (t) => {
  for (const auth of ["htpasswd", "token"] as const) {
    await t.step(auth, async () => {
      await using registry = await startRegistry({ auth });
      const busybox = await buildImage("busybox");
      await pushLayout(registry, busybox.layout, "private:latest");
      await using berth = await startDaemon();
      const ref = `${registry.host}/private:latest`;
      const anonymous = await berth.ctr([
        "images",
        "pull",
        "--plain-http",
        ref,
      ]);
      assert.notEqual(anonymous.code, 0);
      const { username, password } = registry.credentials!;
      const pull = await berth.ctr([
        "images",
        "pull",
        "--plain-http",
        "--user",
        `${username}:${password}`,
        ref,
      ]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(
        (await berth.ctr(["images", "ls", "-q"])).stdout,
        /private:latest/,
      );
    });
  }
});
