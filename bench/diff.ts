/**
 * Layer unpacking: the layers of a made-up multi-layer image (random and
 * half-compressible files, whiteouts, an opaque directory; GNU tar +
 * gzip) are ingested into each daemon's content store, then applied in
 * order onto fresh overlay snapshots through the API, as an image unpack
 * does: `Snapshots.Prepare` on the previous layer's commit, `Diff.Apply`,
 * `Snapshots.Commit`, per layer. The median time of the whole chain, and
 * the uncompressed bytes a second it amounts to.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { Diff } from "../src/gen/containerd/services/diff/v1/diff_pb.ts";
import { Leases } from "../src/gen/containerd/services/leases/v1/leases_pb.ts";
import { Snapshots } from "../src/gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import { CoreClient } from "../src/client/core.ts";
import { writeBlob } from "../src/client/content.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  median,
} from "./_bench.ts";
import type { BenchDaemon } from "./_daemons.ts";

/** This module's name, matched by `deno task bench FILTER`. */
export const name = "diff";

/** Layers in the image. */
export const LAYERS = 4;

/** Bytes of file content in each layer (before tar and gzip). */
export const LAYER_BYTES = 50_000_000;

const MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
const NAMESPACE = "bench";
const SNAPSHOTTER = "overlayfs";

/** A layer blob on disk. */
interface Layer {
  path: string;
  digest: string;
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
}

async function sh(script: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `sh -c ${script}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/**
 * `size` bytes, half of them random and half a repeated text, in 64 KiB
 * blocks: gzip shrinks them to a little over half, as real layers shrink.
 */
function fileData(size: number): Uint8Array {
  const data = new Uint8Array(size);
  const text = new TextEncoder().encode(
    "the quick brown fox jumps over the lazy dog 0123456789\n".repeat(600),
  );
  for (let at = 0; at < size; at += 65536) {
    const half = Math.min(32768, size - at);
    data.set(randomBytes(half), at);
    const rest = Math.min(32768, size - at - half);
    if (rest > 0) data.set(text.subarray(0, rest), at + half);
  }
  return data;
}

/**
 * Writes layer `index`'s tree under `dir`: a few large files, many small
 * ones in nested directories, and from the second layer on whiteouts of
 * the previous layer's files and an opaque directory.
 */
async function writeTree(dir: string, index: number): Promise<void> {
  const large = 10;
  const largeSize = 3_000_000;
  const small = 1000;
  const smallSize = (LAYER_BYTES - large * largeSize) / small;
  await Deno.mkdir(`${dir}/opt/big`, { recursive: true });
  for (let i = 0; i < large; i++) {
    await Deno.writeFile(
      `${dir}/opt/big/blob-${index}-${i}`,
      fileData(largeSize),
    );
  }
  for (let i = 0; i < small; i++) {
    const sub = `${dir}/usr/lib/mod${i % 20}/sub${i % 7}`;
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeFile(`${sub}/file-${index}-${i}.so`, fileData(smallSize));
  }
  if (index > 0) {
    // Whiteouts of half the previous layer's large files, and an opaque
    // directory that hides the previous layer's mod0.
    for (let i = 0; i < large; i += 2) {
      await Deno.writeFile(
        `${dir}/opt/big/.wh.blob-${index - 1}-${i}`,
        new Uint8Array(),
      );
    }
    await Deno.writeFile(`${dir}/usr/lib/mod0/.wh..wh..opq`, new Uint8Array());
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/** Builds the layers as GNU tar + gzip from generated trees. */
async function buildLayers(
  scratch: string,
  log: (line: string) => void,
): Promise<Layer[]> {
  const layers: Layer[] = [];
  for (let i = 0; i < LAYERS; i++) {
    const tree = `${scratch}/tree-${i}`;
    const path = `${scratch}/layer-${i}.tar.gz`;
    await writeTree(tree, i);
    const tarSize = Number(
      await sh(
        'tar -C "$T" --numeric-owner --sort=name -cf - . | tee "$P.tar" | gzip -1 > "$P" && stat -c %s "$P.tar" && rm "$P.tar"',
        { T: tree, P: path },
      ),
    );
    await Deno.remove(tree, { recursive: true });
    const size = (await Deno.stat(path)).size;
    layers.push({ path, size, tarSize, digest: await sha256File(path) });
    log(
      `diff: layer ${i + 1}/${LAYERS}: ${(tarSize / 1e6).toFixed(1)} MB tar, ${
        (size / 1e6).toFixed(1)
      } MB gzip`,
    );
  }
  return layers;
}

function connection(daemon: BenchDaemon): CoreClient {
  return new CoreClient({ address: daemon.address, namespace: NAMESPACE });
}

/** Puts the layers into the daemon's content store, as GC roots. */
async function ingest(daemon: BenchDaemon, layers: Layer[]): Promise<void> {
  const conn = connection(daemon);
  for (const layer of layers) {
    using file = await Deno.open(layer.path);
    await writeBlob(
      conn,
      `bench-diff-${layer.digest}`,
      file.readable,
      BigInt(layer.size),
      layer.digest,
      { "containerd.io/gc.root": "bench" },
    );
  }
}

/**
 * Applies the layers in order onto fresh snapshots under a lease; returns
 * the milliseconds it took. The lease goes afterwards, and with it (the
 * collection is synchronous) every snapshot of the run.
 */
async function unpack(
  daemon: BenchDaemon,
  layers: Layer[],
  run: number,
): Promise<number> {
  const conn = connection(daemon);
  const leases = conn.service(Leases);
  const { lease } = await leases.create({ id: `bench-diff-${run}` });
  const leased = conn.with({ lease: lease!.id });
  const snapshots = leased.service(Snapshots);
  const diff = leased.service(Diff);
  // Dirty pages of the previous run are not this run's to write.
  await sh("sync");
  const started = performance.now();
  try {
    let parent = "";
    for (const [i, layer] of layers.entries()) {
      const key = `bench-${run}-extract-${i}`;
      const name = `bench-${run}-layer-${i}`;
      const { mounts } = await snapshots.prepare({
        snapshotter: SNAPSHOTTER,
        key,
        parent,
      });
      await diff.apply({
        diff: {
          mediaType: MEDIA_TYPE,
          digest: layer.digest,
          size: BigInt(layer.size),
        },
        mounts,
      });
      await snapshots.commit({ snapshotter: SNAPSHOTTER, name, key });
      parent = name;
    }
    const ms = performance.now() - started;
    if (run === 0) await checkUnpacked(conn, layers.length, 0);
    return ms;
  } finally {
    await leases.delete({ id: lease!.id, sync: true });
  }
}

/**
 * Checks (untimed) that the layers really landed: every committed layer
 * holds at least most of its files' bytes.
 */
async function checkUnpacked(
  conn: CoreClient,
  count: number,
  run: number,
): Promise<void> {
  const snapshots = conn.service(Snapshots);
  for (let i = 0; i < count; i++) {
    const key = `bench-${run}-layer-${i}`;
    const usage = await snapshots.usage({ snapshotter: SNAPSHOTTER, key });
    if (Number(usage.size) < LAYER_BYTES * 0.9) {
      throw new Error(
        `${key} holds only ${usage.size} bytes in ${usage.inodes} inodes`,
      );
    }
  }
}

/** Runs the diff benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  log(
    `diff: building ${LAYERS} layers of ${LAYER_BYTES / 1e6} MB of files`,
  );
  const layers = await buildLayers(options.scratch, log);
  const tarBytes = layers.reduce((n, l) => n + l.tarSize, 0);
  const gzipBytes = layers.reduce((n, l) => n + l.size, 0);
  const rows: BenchRow[] = [
    {
      operation: `apply ${LAYERS} layers`,
      unit: "s",
      higherIsBetter: false,
      median: {},
      runs: {},
    },
    {
      operation: "apply, uncompressed",
      unit: "MB/s",
      higherIsBetter: true,
      median: {},
      runs: {},
    },
  ];
  try {
    for (const daemon of options.daemons) {
      await ingest(daemon, layers);
      for (const row of rows) row.runs[daemon.name] = [];
    }
    // Runs alternate between the daemons, so that a busy moment of the
    // machine does not fall on one side only.
    for (let i = 0; i < options.runs; i++) {
      for (const daemon of options.daemons) {
        const ms = await unpack(daemon, layers, i);
        rows[0].runs[daemon.name].push(ms / 1000);
        rows[1].runs[daemon.name].push(tarBytes / 1e6 / (ms / 1000));
        log(
          `diff: ${daemon.name} run ${i + 1}/${options.runs}: ${
            (ms / 1000).toFixed(2)
          } s, ${(tarBytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`,
        );
      }
    }
  } finally {
    for (const layer of layers) await Deno.remove(layer.path).catch(() => {});
  }
  for (const row of rows) {
    for (const [side, values] of Object.entries(row.runs)) {
      row.median[side] = median(values);
    }
  }
  return {
    bench: name,
    params: {
      layers: LAYERS,
      tarBytes,
      gzipBytes,
      runs: options.runs,
      snapshotter: SNAPSHOTTER,
      client: "api",
    },
    rows,
  };
}
