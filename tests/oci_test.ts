/**
 * The specs berth generates equal the ones the real `ctr` writes through a
 * real containerd, for the busybox image with default options and with
 * `--env A=1 --cwd /tmp --net-host --memory-limit 104857600`, a terminal
 * with a read-only root and a bind mount, and `--privileged`.
 */
import assert from "node:assert/strict";
import {
  generateSpec,
  type ImageConfig,
  type SpecOpt,
  withAllDevicesAllowed,
  withCwd,
  withDefaultUnixDevices,
  withEnv,
  withHostDevices,
  withHostNetwork,
  withImageConfig,
  withMemoryLimit,
  withMounts,
  withPrivileged,
  withProcessArgs,
  withReadonlyRootfs,
  withTTY,
} from "../src/oci/mod.ts";
import { startContainerd } from "./_harness.ts";
import { buildImage, saveOciArchive } from "./fixtures/images.ts";

const REF = "docker.io/library/busybox:latest";

/** The unpacked image layer in containerd's overlayfs snapshotter. */
async function snapshotRootfs(root: string): Promise<string> {
  const dir = `${root}/io.containerd.snapshotter.v1.overlayfs/snapshots`;
  for await (const e of Deno.readDir(dir)) {
    const fs = `${dir}/${e.name}/fs`;
    const found = await Deno.stat(`${fs}/etc/passwd`).then(
      () => true,
      () => false,
    );
    if (found) return fs;
  }
  throw new Error("no unpacked busybox snapshot");
}

Deno.test("generated specs equal containerd's for ctr containers create", async (t) => {
  await using containerd = await startContainerd();
  if (!containerd) {
    console.log("containerd not installed: comparison skipped");
    return;
  }
  const image = await buildImage("busybox");
  const tar = `${containerd.dir}/busybox.tar`;
  await saveOciArchive(image.layout, tar, REF);
  const imported = await containerd.ctr(["images", "import", tar]);
  assert.equal(imported.code, 0, imported.stderr);
  const hex = image.config.digest.slice("sha256:".length);
  const config: ImageConfig = JSON.parse(
    await Deno.readTextFile(`${image.layout}/blobs/sha256/${hex}`),
  ).config;

  // Options in ctr's order: default devices, --env, --mount, the image
  // config, then the rest.
  const cases: {
    id: string;
    flags: string[];
    args?: string[];
    before: SpecOpt[];
    after: SpecOpt[];
  }[] = [
    { id: "c1", flags: [], before: [], after: [] },
    {
      id: "c2",
      flags: [
        "--env",
        "A=1",
        "--cwd",
        "/tmp",
        "--net-host",
        "--memory-limit",
        "104857600",
      ],
      before: [withEnv(["A=1"])],
      after: [
        withCwd("/tmp"),
        withHostNetwork(),
        withMemoryLimit(104857600),
      ],
    },
    {
      id: "c3",
      flags: [
        "--tty",
        "--read-only",
        "--mount",
        "type=bind,src=/tmp,dst=/mnt,options=rbind:ro",
        "--env",
        "PATH=/bin",
      ],
      args: ["echo", "hi"],
      before: [
        withEnv(["PATH=/bin"]),
        withMounts(["type=bind,src=/tmp,dst=/mnt,options=rbind:ro"]),
      ],
      after: [withReadonlyRootfs(), withProcessArgs("echo", "hi"), withTTY()],
    },
    {
      id: "c4",
      flags: ["--privileged"],
      before: [],
      after: [withPrivileged(), withAllDevicesAllowed(), withHostDevices()],
    },
  ];
  for (const c of cases) {
    await t.step(c.flags.join(" ") || "defaults", async () => {
      const created = await containerd.ctr([
        "containers",
        "create",
        ...c.flags,
        REF,
        c.id,
        ...c.args ?? [],
      ]);
      assert.equal(created.code, 0, created.stderr);
      const info = await containerd.ctr(["containers", "info", "--spec", c.id]);
      assert.equal(info.code, 0, info.stderr);
      const theirs = JSON.parse(info.stdout);
      const rootfs = await snapshotRootfs(containerd.root);
      const ours = await generateSpec(
        { id: c.id, namespace: containerd.namespace },
        withDefaultUnixDevices(),
        ...c.before,
        withImageConfig(config, { rootfs }),
        ...c.after,
      );
      // Nothing is removed before comparing: ctr sets no hostname and
      // containerd the same cgroups path (/NAMESPACE/ID), and HOSTNAME for
      // --net-host comes from the same host.
      assert.deepEqual(JSON.parse(JSON.stringify(ours)), theirs);
    });
  }
});
