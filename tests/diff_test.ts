/**
 * Layers made by berth's Diff apply in containerd to the same tree, and
 * layers made by containerd apply in berth to the same tree: the two
 * differs agree on whiteouts, owners, modes, links and contents.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Diff } from "../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { Mount as MountMessage } from "../src/gen/containerd/types/mount_pb.ts";
import type { Descriptor } from "../src/gen/containerd/types/descriptor_pb.ts";
import { mountAll, unmountRecursive } from "../src/mount/mod.ts";
import { Client, writeBlob } from "../src/client/mod.ts";
import { run, startContainerd, startDaemon } from "./_harness.ts";

type Side = { address: string; dir: string };

const NS = "difftest";
const GC_ROOT = { "containerd.io/gc.root": "test" };

function clients(side: Side) {
  const client = new Client({ address: side.address, namespace: NS });
  return {
    snapshots: client.service(Snapshots),
    diff: client.service(Diff),
  };
}

/** Mounts `mounts` on a fresh directory under `dir`, runs `fn`, unmounts. */
async function withMounted<T>(
  dir: string,
  mounts: MountMessage[],
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const target = await Deno.makeTempDir({ dir, prefix: "mnt-" });
  await mountAll(mounts, target);
  try {
    return await fn(target);
  } finally {
    await unmountRecursive(target);
    await Deno.remove(target);
  }
}

/** Builds the first tree: every kind of entry the layer format carries. */
async function buildBase(root: string) {
  const sh = (script: string) =>
    run("sh", ["-c", script], { env: { R: root } });
  const r = await sh(`
    set -e
    cd "$R"
    mkdir -p etc/app bin empty deep/a/b/c
    printf 'hello\\n' > etc/app/config
    printf 'secret' > etc/shadow && chmod 0600 etc/shadow
    printf '#!/bin/sh\\n' > bin/tool && chmod 4755 bin/tool
    printf 'data' > deep/a/b/c/file
    ln -s ../etc/app/config bin/link
    ln bin/tool bin/hardlink
    mkfifo bin/fifo
    chown 1000:2000 etc/app/config
    chmod 1777 empty
    setfattr -n user.note -v layered etc/app/config 2>/dev/null || true
    touch -d '2020-01-02 03:04:05' etc/app/config
  `);
  assert.equal(r.code, 0, r.stderr);
}

/** Changes the tree: deletions (file, dir), additions, modifications. */
async function changeTree(root: string) {
  const r = await run("sh", [
    "-c",
    `set -e
    cd "$R"
    rm etc/shadow
    rm -r deep/a
    printf 'changed\\n' > etc/app/config
    mkdir -p new/dir && printf 'n' > new/dir/file
    chmod 0700 bin
    ln -sf /absolute/target bin/link
    `,
  ], { env: { R: root } });
  assert.equal(r.code, 0, r.stderr);
}

interface Entry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  nlink?: number;
  target?: string;
  sha256?: string;
}

/** Every entry of a tree: names, types, modes, owners, targets, contents. */
async function describeTree(root: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  async function walk(dir: string) {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const info = await Deno.lstat(path);
      const entry: Entry = {
        path: path.slice(root.length),
        type: info.isFile
          ? "file"
          : info.isDirectory
          ? "dir"
          : info.isSymlink
          ? "symlink"
          : info.isFifo
          ? "fifo"
          : "other",
        mode: info.mode! & 0o7777,
        uid: info.uid!,
        gid: info.gid!,
      };
      if (info.isSymlink) entry.target = await Deno.readLink(path);
      if (info.isFile) {
        entry.size = info.size;
        entry.nlink = info.nlink!;
        entry.sha256 = createHash("sha256").update(await Deno.readFile(path))
          .digest("hex");
      }
      entries.push(entry);
      if (info.isDirectory) await walk(path);
    }
  }
  await walk(root);
  return entries;
}

/** Makes base and child snapshots on `side`, returning their two layers. */
async function makeLayers(
  side: Side,
): Promise<{ layers: Descriptor[]; tree: Entry[] }> {
  const { snapshots, diff } = clients(side);
  const base = await snapshots.prepare({
    snapshotter: "overlayfs",
    key: "base-a",
    labels: GC_ROOT,
  });
  await withMounted(side.dir, base.mounts, buildBase);
  await snapshots.commit({
    snapshotter: "overlayfs",
    name: "base",
    key: "base-a",
    labels: GC_ROOT,
  });
  const child = await snapshots.prepare({
    snapshotter: "overlayfs",
    key: "child-a",
    parent: "base",
    labels: GC_ROOT,
  });
  await withMounted(side.dir, child.mounts, changeTree);
  const tree = await withMounted(side.dir, child.mounts, describeTree);
  // The tree is what the test means it to be (so equal trees mean something).
  const find = (path: string) => tree.find((e) => e.path === path);
  assert.equal(find("/bin/tool")?.mode, 0o4755);
  assert.equal(find("/bin/hardlink")?.nlink, 2);
  assert.equal(find("/bin/fifo")?.type, "fifo");
  assert.equal(find("/bin/link")?.target, "/absolute/target");
  assert.equal(find("/bin")?.mode, 0o700);
  assert.equal(find("/empty")?.mode, 0o1777);
  assert.equal(find("/etc/app/config")?.uid, 1000);
  assert.equal(find("/etc/shadow"), undefined);
  assert.equal(find("/deep/a"), undefined);
  assert.ok(find("/deep"));
  assert.equal(find("/new/dir/file")?.size, 1);
  const lower = await snapshots.view({
    snapshotter: "overlayfs",
    key: "base-v",
    parent: "base",
    labels: GC_ROOT,
  });
  const layer1 = await diff.diff({
    left: [],
    right: lower.mounts,
    labels: GC_ROOT,
  });
  const layer2 = await diff.diff({
    left: lower.mounts,
    right: child.mounts,
    labels: GC_ROOT,
  });
  return { layers: [layer1.diff!, layer2.diff!], tree };
}

/** Copies a blob from one daemon's content store to the other's. */
async function copyBlob(from: Side, to: Side, desc: Descriptor) {
  const source = new Client({ address: from.address, namespace: NS });
  const target = new Client({ address: to.address, namespace: NS });
  await writeBlob(
    target,
    `copy-${desc.digest}`,
    source.content().read(desc.digest),
    desc.size,
    desc.digest,
    GC_ROOT,
  );
}

/** Applies `layers` in order on `side`; returns the resulting tree. */
async function applyLayers(side: Side, layers: Descriptor[]): Promise<Entry[]> {
  const { snapshots, diff } = clients(side);
  let parent = "";
  for (const [i, layer] of layers.entries()) {
    const key = `apply-${i}`;
    const prepared = await snapshots.prepare({
      snapshotter: "overlayfs",
      key,
      parent,
      labels: GC_ROOT,
    });
    await diff.apply({ diff: layer, mounts: prepared.mounts });
    await snapshots.commit({
      snapshotter: "overlayfs",
      name: `applied-${i}`,
      key,
      labels: GC_ROOT,
    });
    parent = `applied-${i}`;
  }
  const view = await snapshots.view({
    snapshotter: "overlayfs",
    key: "result",
    parent,
    labels: GC_ROOT,
  });
  return await withMounted(side.dir, view.mounts, describeTree);
}

Deno.test("berth's layers apply in containerd, and containerd's in berth, to the same trees", async (t) => {
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  if (!containerd) {
    // Without containerd, berth's own differ must still round-trip.
    const { layers, tree } = await makeLayers(berth);
    await t.step("berth applies its own layers", async () => {
      assert.deepEqual(await applyLayers(berth, layers), tree);
    });
    return;
  }
  await t.step("berth's Diff → containerd's Apply", async () => {
    const { layers, tree } = await makeLayers(berth);
    assert.equal(
      layers[1].mediaType,
      "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    for (const layer of layers) await copyBlob(berth, containerd, layer);
    assert.deepEqual(await applyLayers(containerd, layers), tree);
  });
  await t.step("containerd's Diff → berth's Apply", async () => {
    const { layers, tree } = await makeLayers({
      address: containerd.address,
      dir: containerd.dir,
    });
    for (const layer of layers) await copyBlob(containerd, berth, layer);
    const applied = await applyLayers(berth, layers);
    assert.deepEqual(applied, tree);
  });
});
