/**
 * The server-side transfers: pulls that unpack while they download, pushes,
 * and archive import and export, driven through berth's Transfer API.
 */
import assert from "node:assert/strict";
import { Transfer } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import type { Progress } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { mountAll, unmountRecursive } from "../src/mount/mod.ts";
import { Client, ClientError } from "../src/client/mod.ts";
import {
  run,
  startContainerd,
  startDaemon,
  type TestDaemon,
} from "./_harness.ts";
import {
  buildImage,
  MULTILAYER_EXPECT,
  saveOciArchive,
} from "./fixtures/images.ts";
import { pushLayout, startRegistry } from "./fixtures/registry.ts";

async function drain(stream: AsyncIterable<Progress>): Promise<Progress[]> {
  const all: Progress[] = [];
  for await (const progress of stream) all.push(progress);
  return all;
}

/** Every path under the snapshot `key`'s view, with type and size. */
async function listTree(daemon: TestDaemon, namespace: string, key: string) {
  const snapshots = new Client({
    address: daemon.address,
    namespace,
  }).service(Snapshots);
  const viewKey = `view-${crypto.randomUUID()}`;
  // A GC root, or the collection after the next pull would take it.
  const view = await snapshots.view({
    snapshotter: "overlayfs",
    key: viewKey,
    parent: key,
    labels: { "containerd.io/gc.root": new Date().toISOString() },
  });
  const target = await Deno.makeTempDir({ dir: daemon.dir });
  await mountAll(view.mounts, target);
  try {
    const r = await run("sh", [
      "-c",
      `cd "${target}" && find . -printf '%p %y %s %m %U\\n' | sort`,
    ]);
    return r.stdout;
  } finally {
    await unmountRecursive(target);
    await snapshots.remove({ snapshotter: "overlayfs", key: viewKey });
  }
}

Deno.test("Transfer.Pull fetches and unpacks busybox, streaming progress", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await pushLayout(registry, busybox.layout, "busybox:latest");
  await using berth = await startDaemon();
  const transfer = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Transfer);
  const ref = `${registry.host}/busybox:latest`;
  const progress = await drain(
    transfer.pull({ reference: ref, snapshotter: "overlayfs" }),
  );
  const last = progress.at(-1)!;
  assert.equal(last.image, ref);
  assert.equal(last.target?.digest, busybox.digest);
  assert.ok(last.snapshot.startsWith("sha256:"));
  assert.deepEqual(
    last.blobs.map((b) => b.kind).sort(),
    ["config", "layer", "manifest"],
  );
  const tree = await listTree(berth, berth.namespace, last.snapshot);
  assert.match(tree, /\.\/bin\/busybox f/);
  // The same image pulled by ctr is recognised as already there.
  const ctrPull = await berth.ctr(["images", "pull", "--plain-http", ref]);
  assert.equal(ctrPull.code, 0, ctrPull.stderr);
  const check = await berth.ctr(["images", "check"]);
  assert.match(check.stdout, /complete \(2\/2\).*true/);
});

Deno.test("a server-side pull of the multi-layer image unpacks the same tree as ctr's pull", async () => {
  await using registry = await startRegistry();
  const image = await buildImage("multilayer");
  await pushLayout(registry, image.layout, "multi:latest");
  await using berth = await startDaemon();
  const ref = `${registry.host}/multi:latest`;
  const transfer = new Client({
    address: berth.address,
    namespace: "server",
  }).service(Transfer);
  const started = performance.now();
  const progress = await drain(
    transfer.pull({ reference: ref, snapshotter: "overlayfs" }),
  );
  const serverSeconds = (performance.now() - started) / 1000;
  const last = progress.at(-1)!;
  assert.equal(
    last.blobs.filter((b) => b.kind === "layer").length,
    image.layers.length,
  );
  const ours = await listTree(berth, "server", last.snapshot);
  for (const path of MULTILAYER_EXPECT.present) {
    assert.match(ours, new RegExp(`\\./${path} `));
  }
  for (const path of MULTILAYER_EXPECT.absent) {
    assert.doesNotMatch(ours, new RegExp(`\\./${path} `));
  }
  const ctrStarted = performance.now();
  const ctrPull = await berth.ctr([
    "-n",
    "client",
    "images",
    "pull",
    "--plain-http",
    ref,
  ]);
  const ctrSeconds = (performance.now() - ctrStarted) / 1000;
  assert.equal(ctrPull.code, 0, ctrPull.stderr);
  assert.equal(await listTree(berth, "client", last.snapshot), ours);
  console.log(
    `server-side pull ${serverSeconds.toFixed(2)} s, ctr pull ${
      ctrSeconds.toFixed(2)
    } s`,
  );
  // And the same tree as containerd unpacks from the same image.
  await using containerd = await startContainerd();
  if (containerd) {
    const pulled = await containerd.ctr([
      "images",
      "pull",
      "--plain-http",
      ref,
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const theirs = await listTree(
      { address: containerd.address, dir: containerd.dir } as TestDaemon,
      containerd.namespace,
      last.snapshot,
    );
    assert.equal(theirs, ours);
  }
});

Deno.test("bad pulls fail cleanly and store nothing", async () => {
  await using registry = await startRegistry();
  const multi = await buildImage("multiplatform");
  await pushLayout(registry, multi.layout, "multi-arch:latest");
  await using berth = await startDaemon();
  const transfer = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Transfer);
  const expectCode = async (
    reference: string,
    code: number,
    message: RegExp,
    extra = {},
  ) => {
    try {
      await drain(
        transfer.pull({ reference, snapshotter: "overlayfs", ...extra }),
      );
      assert.fail(`pull of ${reference} should fail`);
    } catch (err) {
      assert.ok(err instanceof ClientError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
    }
  };
  await expectCode("UPPER/case!!", 3, /not valid|invalid/);
  await expectCode(`${registry.host}/missing:latest`, 5, /not found/);
  await expectCode(
    `${registry.host}/multi-arch:latest`,
    5,
    /no match for platform/,
    {
      platforms: ["linux/s390x"],
    },
  );
  const images = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Images);
  assert.deepEqual((await images.list({})).images, []);
  assert.equal(
    (await berth.ctr(["content", "ls", "-q"])).stdout.trim().split("\n").filter(
      Boolean,
    ).length <= 1,
    true,
  );
});

Deno.test("Transfer.Push, Import and Export", async () => {
  await using registry = await startRegistry();
  const busybox = await buildImage("busybox");
  await using berth = await startDaemon();
  await using containerd = await startContainerd({
    namespace: berth.namespace,
  });
  const transfer = new Client({
    address: berth.address,
    namespace: berth.namespace,
  }).service(Transfer);
  const archive = `${berth.dir}/busybox.tar`;
  await saveOciArchive(
    busybox.layout,
    archive,
    "docker.io/library/busybox:latest",
  );
  const data = await Deno.readFile(archive);
  const imported = await drain(transfer.import((async function* () {
    yield { options: { snapshotter: "overlayfs" } };
    for (let i = 0; i < data.length; i += 1 << 20) {
      yield { data: data.subarray(i, i + (1 << 20)) };
    }
  })()));
  assert.equal(imported.at(-1)!.image, "docker.io/library/busybox:latest");
  const check = await berth.ctr(["images", "check"]);
  assert.match(check.stdout, /complete \(2\/2\).*true/);

  const target = `${registry.host}/pushed:1`;
  const pushed = await drain(
    transfer.push({
      image: "docker.io/library/busybox:latest",
      reference: target,
    }),
  );
  assert.equal(pushed.at(-1)!.target?.digest, busybox.digest);
  const inspect = await run("skopeo", [
    "inspect",
    "--tls-verify=false",
    `docker://${target}`,
  ]);
  assert.equal(JSON.parse(inspect.stdout).Digest, busybox.digest);

  const out = `${berth.dir}/exported.tar`;
  const file = await Deno.open(out, { write: true, create: true });
  for await (
    const chunk of transfer.export({
      images: ["docker.io/library/busybox:latest"],
    })
  ) {
    await file.write(chunk.data);
  }
  file.close();
  if (containerd) {
    const r = await containerd.ctr(["images", "import", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      (await containerd.ctr(["images", "ls", "-q"])).stdout,
      /busybox:latest/,
    );
  }
});

/** A one-layer image served by the in-process fake registry. */
async function fakeImage(dir: string) {
  const { createHash } = await import("node:crypto");
  const { FakeRegistry } = await import("../src/remotes/_testing.ts");
  const registry = FakeRegistry.start();
  const root = await Deno.makeTempDir({ dir });
  await Deno.writeTextFile(`${root}/hello.txt`, "hello\n".repeat(20_000));
  await run("tar", ["-C", root, "-czf", `${dir}/layer.tgz`, "."]);
  const layerBytes = await Deno.readFile(`${dir}/layer.tgz`);
  const tar = await new Deno.Command("gunzip", {
    args: ["-c", `${dir}/layer.tgz`],
    stdout: "piped",
  }).output();
  const diffID = `sha256:${
    createHash("sha256").update(tar.stdout).digest("hex")
  }`;
  const layer = registry.addBlob(
    "img",
    layerBytes,
    "application/vnd.oci.image.layer.v1.tar+gzip",
  );
  const config = registry.addBlob(
    "img",
    new TextEncoder().encode(JSON.stringify({
      architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [diffID] },
      config: {},
    })),
    "application/vnd.oci.image.config.v1+json",
  );
  const manifestBytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config,
    layers: [layer],
  }));
  const manifest = registry.addManifest(
    "img",
    "application/vnd.oci.image.manifest.v1+json",
    manifestBytes,
    "v1",
  );
  return { registry, layer, manifest, layerBytes };
}

Deno.test("pulls refuse wrong bytes and oversized manifests, and resume a dropped blob", async (t) => {
  await using berth = await startDaemon();
  const { registry, layer, manifest, layerBytes } = await fakeImage(berth.dir);
  // Each case pulls into a namespace of its own: none sees another's blobs.
  const pullError = async (namespace: string, reference: string) => {
    const transfer = new Client({ address: berth.address, namespace }).service(
      Transfer,
    );
    try {
      await drain(transfer.pull({ reference, snapshotter: "overlayfs" }));
      return undefined;
    } catch (err) {
      assert.ok(err instanceof ClientError, String(err));
      return err;
    }
  };
  const imagesIn = async (namespace: string) =>
    (await new Client({ address: berth.address, namespace }).service(Images)
      .list({}))
      .images.map((i) => i.name);
  const ref = `${registry.host}/img:v1`;
  try {
    await t.step(
      "a layer whose bytes do not match its descriptor",
      async () => {
        const wrong = layerBytes.slice();
        wrong[wrong.length - 10] ^= 0xff;
        registry.corrupt.set(layer.digest, wrong);
        const err = await pullError("corrupt", ref);
        registry.corrupt.delete(layer.digest);
        assert.equal(err?.code, 9, err?.message);
        assert.match(err.message, /digest/);
        assert.deepEqual(await imagesIn("corrupt"), []);
        const blobs =
          (await berth.ctr(["-n", "corrupt", "content", "ls", "-q"])).stdout;
        assert.doesNotMatch(blobs, new RegExp(layer.digest));
        const active =
          (await berth.ctr(["-n", "corrupt", "content", "active"])).stdout;
        assert.doesNotMatch(active, /layer-/);
      },
    );
    await t.step("a manifest whose digest does not match", async () => {
      // Same length, other bytes: only the digest tells them apart.
      const forged = new TextEncoder().encode(
        JSON.stringify({ pad: "y".repeat(manifest.size - 10) }),
      );
      registry.intercept = (req, url) =>
        req.method === "GET" &&
          url.pathname.endsWith(`/manifests/${manifest.digest}`)
          ? new Response(forged, {
            headers: { "content-type": manifest.mediaType },
          })
          : undefined;
      const err = await pullError(
        "mismatch",
        `${registry.host}/img@${manifest.digest}`,
      );
      registry.intercept = undefined;
      assert.equal(err?.code, 9, err?.message);
      assert.deepEqual(await imagesIn("mismatch"), []);
    });
    await t.step("a manifest larger than the limit", async () => {
      const huge = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        annotations: { pad: "x".repeat(5 << 20) },
      }));
      registry.addManifest(
        "img",
        "application/vnd.oci.image.manifest.v1+json",
        huge,
        "huge",
      );
      const err = await pullError("huge", `${registry.host}/img:huge`);
      assert.ok(err && [8, 9].includes(err.code), err?.message);
      assert.deepEqual(await imagesIn("huge"), []);
    });
    await t.step(
      "a registry that drops the connection mid-blob: the pull resumes",
      async () => {
        registry.drops.set(layer.digest, [layerBytes.length >> 1]);
        const err = await pullError("dropped", ref);
        assert.equal(err, undefined, err?.message);
        assert.deepEqual(await imagesIn("dropped"), [ref]);
        const check = await berth.ctr(["-n", "dropped", "images", "check"]);
        assert.match(check.stdout, /complete \(2\/2\)/);
      },
    );
  } finally {
    await registry.close();
  }
});

Deno.test("server-side pulls authenticate with basic and token auth", async (t) => {
  for (const auth of ["htpasswd", "token"] as const) {
    await t.step(auth, async () => {
      await using registry = await startRegistry({ auth });
      const busybox = await buildImage("busybox");
      await pushLayout(registry, busybox.layout, "private:latest");
      await using berth = await startDaemon();
      const transfer = new Client({
        address: berth.address,
        namespace: berth.namespace,
      }).service(Transfer);
      const reference = `${registry.host}/private:latest`;
      await assert.rejects(() => drain(transfer.pull({ reference })));
      const { username, password } = registry.credentials!;
      const done = await drain(transfer.pull({
        reference,
        snapshotter: "overlayfs",
        registry: { credentials: `${username}:${password}` },
      }));
      assert.equal(done.at(-1)!.target?.digest, busybox.digest);
    });
  }
});
