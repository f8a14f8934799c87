/**
 * SIGKILL at the worst moments of an image transfer, then a restart on the
 * same root: the same operation completes, and nothing partial was visible
 * in between (no image, no blob, no committed snapshot, no mount).
 *
 * Each crash point is deterministic: a registry proxy that stalls a blob
 * mid-body (`fixtures/stall_proxy.ts`), an archive streamed up to the
 * middle of a blob, or a crash point armed with `BERTH_CRASH_AT` (see
 * `src/types/crash_point.ts`) where the daemon kills itself. Every case
 * mixes blobs new to the daemon with blobs another namespace already has.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Content } from "../src/gen/containerd/services/content/v1/content_pb.ts";
import { Images } from "../src/gen/containerd/services/images/v1/images_pb.ts";
import {
  Snapshots,
  type Snapshots as SnapshotsService,
} from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { Transfer } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import type { Progress } from "../src/gen/berth/services/transfer/v1/transfer_pb.ts";
import type { Client as ServiceClient } from "@connectrpc/connect";
import { Client } from "../src/client/mod.ts";
import { removeTestDir, startDaemon, type TestDaemon } from "./_harness.ts";
import {
  buildImage,
  type BuiltImage,
  saveOciArchive,
} from "./fixtures/images.ts";
import {
  pushLayout,
  type Registry,
  startRegistry,
} from "./fixtures/registry.ts";
import { startStallProxy } from "./fixtures/stall_proxy.ts";

/** Where a stalled download stops: past the first MiB the daemon writes. */
const STALL_AT = 1_500_000;

/** busybox, and an image sharing its layer plus one new random layer. */
async function images(): Promise<{ busybox: BuiltImage; app: BuiltImage }> {
  const busybox = await buildImage("busybox");
  const app = await buildImage("multilayer", undefined, {
    sizeMB: 3,
    layers: 1,
  });
  assert.equal(app.layers[0].digest, busybox.layers[0].digest);
  return { busybox, app };
}

/** The largest layer of `app`, which `busybox` does not have. */
function newLayer(app: BuiltImage): string {
  return app.layers.reduce((a, b) => a.size >= b.size ? a : b).digest;
}

/** Starts daemons on one root, which outlives their restarts. */
type Start = (env?: Record<string, string>) => Promise<TestDaemon>;

/** Runs `fn` with a daemon starter on one test directory; cleans up all. */
async function withDir(fn: (start: Start, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "berth-crash-" });
  const daemons: TestDaemon[] = [];
  try {
    await fn(async (env) => {
      const daemon = await startDaemon({ dir, env });
      daemons.push(daemon);
      return daemon;
    }, dir);
  } finally {
    for (const daemon of daemons) await daemon.stop();
    await removeTestDir(dir);
  }
}

/** Kills the daemon with SIGKILL (or waits for it to kill itself). */
async function killed(daemon: TestDaemon, self = false): Promise<void> {
  if (!self) daemon.process.kill("SIGKILL");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    daemon.process.status,
    // Only a failing test gets here: the crash point was never reached.
    new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new Error("the daemon did not crash")),
        30_000,
      )
    ),
  ]).finally(() => clearTimeout(timer));
  assert.equal(status.signal, "SIGKILL");
}

/** Waits for `event`, failing when `operation` ends first. */
async function before(event: Promise<void>, operation: Promise<unknown>) {
  await Promise.race([
    event,
    operation.then(
      () => Promise.reject(new Error("finished before the crash point")),
      (err) => Promise.reject(err),
    ),
  ]);
}

/** Polls `check` until it holds: the daemon's state is the event awaited. */
async function until(what: string, check: () => Promise<boolean>) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True once `namespace` has an ingest of `digest` with ≥ 1 MiB in it. */
function ingesting(daemon: TestDaemon, namespace: string, digest: string) {
  const content = new Client({ address: daemon.address, namespace }).service(
    Content,
  );
  return async () => {
    const { statuses } = await content.listStatuses({});
    return statuses.some((s) => s.expected === digest && s.offset >= 1 << 20);
  };
}

/** True when `namespace` has blob `digest`. */
async function owned(daemon: TestDaemon, namespace: string, digest: string) {
  const content = new Client({ address: daemon.address, namespace }).service(
    Content,
  );
  return await content.info({ digest }).then(() => true, () => false);
}

/** True once `namespace` has an active extraction snapshot. */
function extracting(daemon: TestDaemon, namespace: string) {
  const snapshots = new Client({
    address: daemon.address,
    namespace,
  }).service(Snapshots);
  return async () => {
    for await (const page of snapshots.list({ snapshotter: "overlayfs" })) {
      if (page.info.some((i) => i.name.startsWith("extract-"))) return true;
    }
    return false;
  };
}

/** Mount points below `dir`. */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").map((line) => line.split(" ")[4] ?? "")
    .filter((path) => path.startsWith(`${dir}/`));
}

/**
 * Asserts that a crashed transfer into `namespace` left nothing partial
 * visible: no image, no committed snapshot, no mount, and only blobs whose
 * bytes match their digests.
 */
async function nothingPartial(daemon: TestDaemon, namespace: string) {
  const imagesApi = new Client({ address: daemon.address, namespace }).service(
    Images,
  );
  assert.deepEqual((await imagesApi.list({})).images.map((i) => i.name), []);
  const content = new Client({ address: daemon.address, namespace }).service(
    Content,
  );
  for await (const page of content.list({})) {
    for (const info of page.info) {
      await verifyBlob(daemon, namespace, info.digest);
    }
  }
  assert.deepEqual(await committedSnapshots(daemon, namespace), []);
  assert.deepEqual(await mountsUnder(daemon.dir), []);
}

/** Asserts that blob `digest` of `namespace` holds bytes with that digest. */
async function verifyBlob(
  daemon: TestDaemon,
  namespace: string,
  digest: string,
) {
  const content = new Client({ address: daemon.address, namespace }).service(
    Content,
  );
  const hash = createHash("sha256");
  for await (const chunk of content.read({ digest })) hash.update(chunk.data);
  assert.equal(`sha256:${hash.digest("hex")}`, digest);
}

async function committedSnapshots(daemon: TestDaemon, namespace: string) {
  const snapshots: ServiceClient<typeof SnapshotsService> = new Client({
    address: daemon.address,
    namespace,
  }).service(Snapshots);
  const names: string[] = [];
  for await (const page of snapshots.list({ snapshotter: "overlayfs" })) {
    for (const info of page.info) if (info.kind === 3) names.push(info.name);
  }
  return names.sort();
}

/**
 * Asserts that `image` is complete in `namespace`: every blob there with
 * its digest, its layers unpacked into committed snapshots, no ingest left.
 */
async function complete(
  daemon: TestDaemon,
  namespace: string,
  image: BuiltImage,
) {
  for (const desc of [image.manifest.config, ...image.layers]) {
    await verifyBlob(daemon, namespace, desc.digest);
  }
  assert.equal(
    (await committedSnapshots(daemon, namespace)).length,
    image.layers.length,
  );
  const content = new Client({ address: daemon.address, namespace }).service(
    Content,
  );
  const { statuses } = await content.listStatuses({});
  assert.deepEqual(statuses.map((s) => s.ref), []);
  assert.deepEqual(await mountsUnder(daemon.dir), []);
}

/** One attempt of a transfer into namespace "b"; rejects when it fails. */
type Attempt = (daemon: TestDaemon) => Promise<unknown>;

/**
 * Crashes transfers at each commit point in turn: a blob shared from
 * namespace "a" (`shared`), a new one (`fresh`), then a layer's unpack
 * (`fresh` again), checking after each restart that nothing partial is
 * visible. Returns a daemon restarted after the last crash.
 */
async function crashAtCommits(
  start: Start,
  options: {
    shared: Attempt;
    fresh: Attempt;
    /** The image record precedes the unpack (import, and ctr's pull). */
    imageBeforeUnpack?: boolean;
  },
): Promise<TestDaemon> {
  for (const attempt of [options.shared, options.fresh]) {
    const crashing = await start({ BERTH_CRASH_AT: "content-commit" });
    await assert.rejects(attempt(crashing));
    await killed(crashing, true);
  }
  const between = await start();
  await nothingPartial(between, "b");
  await between.stop();
  const crashing = await start({ BERTH_CRASH_AT: "unpack-commit" });
  await assert.rejects(options.fresh(crashing));
  await killed(crashing, true);
  const last = await start();
  assert.deepEqual(await committedSnapshots(last, "b"), []);
  assert.deepEqual(await mountsUnder(last.dir), []);
  if (!options.imageBeforeUnpack) {
    const imagesApi = new Client({
      address: last.address,
      namespace: "b",
    }).service(Images);
    assert.deepEqual((await imagesApi.list({})).images, []);
  }
  return last;
}

async function drain(stream: AsyncIterable<Progress>): Promise<Progress[]> {
  const all: Progress[] = [];
  for await (const progress of stream) all.push(progress);
  return all;
}

/** Server-side pull of `reference` into `namespace`, unpacked. */
function transferPull(
  daemon: TestDaemon,
  namespace: string,
  reference: string,
) {
  const transfer = new Client({ address: daemon.address, namespace }).service(
    Transfer,
  );
  return drain(transfer.pull({ reference, snapshotter: "overlayfs" }));
}

/** Server-side import of `archive` into `namespace`, unpacked; `cut` stops the stream there and hangs. */
function transferImport(
  daemon: TestDaemon,
  namespace: string,
  archive: Uint8Array,
  cut = archive.length,
) {
  const transfer = new Client({ address: daemon.address, namespace }).service(
    Transfer,
  );
  const hang = Promise.withResolvers<void>();
  const done = drain(transfer.import((async function* () {
    yield { options: { snapshotter: "overlayfs" } };
    for (let i = 0; i < cut; i += 1 << 16) {
      yield { data: archive.subarray(i, Math.min(cut, i + (1 << 16))) };
    }
    if (cut < archive.length) await hang.promise;
  })()));
  return { done, release: () => hang.resolve() };
}

/** The offset of `name`'s data in a tar archive. */
function tarDataOffset(archive: Uint8Array, name: string): number {
  const decoder = new TextDecoder();
  for (let at = 0; at + 512 <= archive.length;) {
    const header = archive.subarray(at, at + 512);
    const entry = decoder.decode(header.subarray(0, 100)).replace(/\0.*$/s, "");
    if (entry === "") break;
    const size = parseInt(
      decoder.decode(header.subarray(124, 136)).replace(/\0.*$/s, "").trim() ||
        "0",
      8,
    );
    if (entry.replace(/^\.\//, "") === name) return at + 512;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} not in the archive`);
}

async function pushed(registry: Registry, image: BuiltImage, tag: string) {
  await pushLayout(registry, image.layout, tag);
  return `${registry.host}/${tag}`;
}

Deno.test("Transfer.Pull killed mid-fetch and mid-unpack completes after a restart", async () => {
  await using registry = await startRegistry();
  const { busybox, app } = await images();
  const busyboxRef = await pushed(registry, busybox, "busybox:1");
  await pushed(registry, app, "app:1");
  await using proxy = startStallProxy({
    upstream: registry.url,
    digest: newLayer(app),
    after: STALL_AT,
  });
  await withDir(async (start) => {
    const first = await start();
    await transferPull(first, "a", busyboxRef);
    const appRef = `${proxy.host}/app:1`;
    const pulling = transferPull(first, "b", appRef);
    pulling.catch(() => {});
    await before(proxy.stalled, pulling);
    await until(
      "the new layer half written",
      ingesting(first, "b", newLayer(app)),
    );
    await until("a layer being extracted", extracting(first, "b"));
    await killed(first);
    await assert.rejects(pulling);

    const second = await start();
    await nothingPartial(second, "b");
    const progress = await transferPull(second, "b", appRef);
    assert.equal(progress.at(-1)!.target?.digest, app.digest);
    await complete(second, "b", app);
  });
});

Deno.test("Transfer.Pull killed at a blob's and a layer's commit completes after a restart", async () => {
  await using registry = await startRegistry();
  const { busybox, app } = await images();
  const busyboxRef = await pushed(registry, busybox, "busybox:1");
  const appRef = await pushed(registry, app, "app:1");
  await withDir(async (start) => {
    const first = await start();
    await transferPull(first, "a", busyboxRef);
    await first.stop();
    const last = await crashAtCommits(start, {
      shared: (daemon) => transferPull(daemon, "b", busyboxRef),
      fresh: (daemon) => transferPull(daemon, "b", appRef),
    });
    await transferPull(last, "b", busyboxRef);
    await transferPull(last, "b", appRef);
    await complete(last, "b", app);
  });
});

Deno.test("Transfer.Import killed mid-blob and at commits completes after a restart", async () => {
  const { busybox, app } = await images();
  await withDir(async (start, dir) => {
    const busyboxTar = `${dir}/busybox.tar`;
    const appTar = `${dir}/app.tar`;
    await saveOciArchive(busybox.layout, busyboxTar, "example.com/busybox:1");
    await saveOciArchive(app.layout, appTar, "example.com/app:1");
    const busyboxArchive = await Deno.readFile(busyboxTar);
    const appArchive = await Deno.readFile(appTar);

    const first = await start();
    await transferImport(first, "a", busyboxArchive).done;
    // Cut off in the middle of a layer "a" has (issue 14: a shared blob's
    // leftover ingest made every later import fail), then of a new one.
    let daemon = first;
    for (const digest of [busybox.layers[0].digest, newLayer(app)]) {
      const blob = `blobs/sha256/${digest.slice("sha256:".length)}`;
      const cut = tarDataOffset(appArchive, blob) + (1 << 20) + 4096;
      const importing = transferImport(daemon, "b", appArchive, cut);
      importing.done.catch(() => {});
      try {
        await until(
          "the layer half written, or taken as it is",
          async () =>
            await ingesting(daemon, "b", digest)() ||
            await owned(daemon, "b", digest),
        );
        await killed(daemon);
      } finally {
        importing.release();
      }
      await assert.rejects(importing.done);
      daemon = await start();
    }
    await daemon.stop();

    const last = await crashAtCommits(start, {
      shared: (daemon) => transferImport(daemon, "b", busyboxArchive).done,
      fresh: (daemon) => transferImport(daemon, "b", appArchive).done,
      imageBeforeUnpack: true,
    });
    await transferImport(last, "b", busyboxArchive).done;
    const progress = await transferImport(last, "b", appArchive).done;
    assert.equal(progress.at(-1)!.image, "example.com/app:1");
    await complete(last, "b", app);
  });
});

Deno.test("Content.Write from the real ctr, killed mid-fetch and at commits, completes after a restart", async () => {
  await using registry = await startRegistry();
  const { busybox, app } = await images();
  const busyboxRef = await pushed(registry, busybox, "busybox:1");
  await pushed(registry, app, "app:1");
  await using proxy = startStallProxy({
    upstream: registry.url,
    digest: newLayer(app),
    after: STALL_AT,
  });
  const appRef = `${proxy.host}/app:1`;
  const ctrPull = (daemon: TestDaemon, ref: string) =>
    daemon.ctr(["-n", "b", "images", "pull", "--plain-http", ref]);
  await withDir(async (start) => {
    const first = await start();
    const seed = await first.ctr([
      "-n",
      "a",
      "images",
      "pull",
      "--plain-http",
      busyboxRef,
    ]);
    assert.equal(seed.code, 0, seed.stderr);
    const pulling = ctrPull(first, appRef);
    await before(proxy.stalled, pulling);
    await until(
      "the new layer half written",
      ingesting(first, "b", newLayer(app)),
    );
    await killed(first);
    proxy.release(); // ctr waits on the registry, not on the dead daemon.
    assert.notEqual((await pulling).code, 0);

    const ctrPullOK = async (daemon: TestDaemon, ref: string) => {
      const r = await ctrPull(daemon, ref);
      if (r.code !== 0) throw new Error(r.stderr);
    };
    const last = await crashAtCommits(start, {
      shared: (daemon) => ctrPullOK(daemon, busyboxRef),
      fresh: (daemon) => ctrPullOK(daemon, appRef),
      imageBeforeUnpack: true,
    });
    for (const ref of [busyboxRef, appRef]) {
      const r = await ctrPull(last, ref);
      assert.equal(r.code, 0, r.stderr);
    }
    await complete(last, "b", app);
  });
});
