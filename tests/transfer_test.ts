/**
 * The server-side transfers: pulls that unpack while they download, pushes,
 * and archive import and export, driven through berth's Transfer API.
 */
import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";
import { Transfer } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import type { Progress } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { mountAll, unmountRecursive } from "../src/mount/mod.ts";
import { apiClient } from "./_client.ts";
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
  const snapshots = apiClient(Snapshots, {
    address: daemon.address,
    namespace,
  });
  const viewKey = `view-${crypto.randomUUID()}`;
  const view = await snapshots.view({
    snapshotter: "overlayfs",
    key: viewKey,
    parent: key,
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
  const transfer = apiClient(Transfer, {
    address: berth.address,
    namespace: "default",
  });
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
  const tree = await listTree(berth, "default", last.snapshot);
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
  const transfer = apiClient(Transfer, {
    address: berth.address,
    namespace: "server",
  });
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
});

Deno.test("bad pulls fail cleanly and store nothing", async () => {
  await using registry = await startRegistry();
  const multi = await buildImage("multiplatform");
  await pushLayout(registry, multi.layout, "multi-arch:latest");
  await using berth = await startDaemon();
  const transfer = apiClient(Transfer, {
    address: berth.address,
    namespace: "default",
  });
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
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, code, err.rawMessage);
      assert.match(err.rawMessage, message);
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
  const images = apiClient(Images, {
    address: berth.address,
    namespace: "default",
  });
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
  await using containerd = await startContainerd();
  const transfer = apiClient(Transfer, {
    address: berth.address,
    namespace: "default",
  });
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
