/**
 * Running containers, with the real `ctr` against berth and containerd on
 * the same offline busybox image:
 *
 * - `ctr run --rm IMAGE ID true`: one container's whole life, beside bare
 *   `runc run` of a prepared bundle (the floor no daemon can beat);
 * - {@linkcode CONTAINERS} concurrent `ctr run -d`: the wall time until
 *   all run, then the daemon's RSS, how many shim processes serve them
 *   (berth groups a namespace's containers under one shim; containerd runs
 *   one per container), their PSS and the daemon's plus theirs (plus the
 *   memfds they hold, which no PSS counts: berth's sealed copy of runc),
 *   and the time to kill and remove them all;
 * - `ctr tasks exec ID true` in a running container (`n/a` while a daemon
 *   answers that it cannot);
 * - `ctr run --rm` of a container writing {@linkcode OUTPUT_BYTES} to its
 *   stdout, read by the bench: the shim's copy from the container's pipe
 *   to ctr's FIFO;
 * - the PSS of all shim processes with {@linkcode SHIM_STEPS} containers
 *   running (one berth shim serves them all; containerd has one each).
 *
 * @module
 */
import { join } from "node:path";
import { Containers } from "../src/gen/containerd/services/containers/v1/containers_pb.ts";
import { type CommandResult, run as command } from "../tests/_harness.ts";
import { buildImage, saveOciArchive } from "../tests/fixtures/images.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  median,
} from "./_bench.ts";
import { IMAGE, NAMESPACE, prepareSide, procMB, type Side } from "./_side.ts";

/** The module's name for `deno task bench run`. */
export const name = "run";

/** Containers started at once. */
export const CONTAINERS = 50;

/** How many containers run while the shims' memory is measured. */
export const SHIM_STEPS = [1, 10, 50];

/** Bytes the output throughput container writes (1 GiB). */
export const OUTPUT_BYTES = 1 << 30;

/** Latency samples per run, daemon and operation. */
export const LATENCY_SAMPLES = 5;

/**
 * `ctr tasks exec` samples per run and daemon: more than
 * {@linkcode LATENCY_SAMPLES}, as an exec is short and its median must hold
 * against a noisy machine.
 */
export const EXEC_SAMPLES = 20;

/** The side that is bare runc rather than a daemon. */
const FLOOR = "runc";

/** Like {@linkcode command}, but a failure throws with what it printed. */
async function must(cmd: string, args: string[]): Promise<CommandResult> {
  const out = await command(cmd, args);
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr.trim()}`);
  }
  return out;
}

/** Milliseconds `fn` takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** The rows this module reports, by key. */
function makeRows() {
  const row = (
    operation: string,
    unit: string,
  ): BenchRow => ({
    operation,
    unit,
    higherIsBetter: false,
    median: {},
    runs: {},
  });
  return {
    run: row("run --rm true", "ms"),
    start: row(`start ${CONTAINERS} at once`, "s"),
    daemonRss: row(`daemon RSS, ${CONTAINERS} running`, "MB"),
    shims: row(`shim processes, ${CONTAINERS} running`, "n"),
    shimsPss: row(`shim PSS, all, ${CONTAINERS} running`, "MB"),
    totalPss: row(`daemon+shims PSS+memfds, ${CONTAINERS} running`, "MB"),
    cleanup: row(`kill+rm ${CONTAINERS} at once`, "s"),
    exec: row("exec true", "ms"),
    output: {
      ...row(`run --rm, ${OUTPUT_BYTES >> 20} MiB to stdout`, "MB/s"),
      higherIsBetter: true,
    },
    shimSteps: SHIM_STEPS.map((n) => row(`shim PSS, ${n} running`, "MB")),
  };
}

type Rows = ReturnType<typeof makeRows>;

type Log = (line: string) => void;

function record(row: BenchRow, side: string, value: number) {
  (row.runs[side] ??= []).push(value);
}

/**
 * A runc bundle of busybox (its layer unpacked, `runc spec` made
 * non-interactive, running `true`); returns the bundle's path.
 */
async function prepareFloor(scratch: string, layer: string): Promise<string> {
  const bundle = join(scratch, "runc-bundle");
  await Deno.mkdir(join(bundle, "rootfs"), { recursive: true });
  await must("tar", ["-xzf", layer, "-C", join(bundle, "rootfs")]);
  await must("runc", ["spec", "--bundle", bundle]);
  const configPath = join(bundle, "config.json");
  const config = JSON.parse(await Deno.readTextFile(configPath));
  config.process.terminal = false;
  config.process.args = ["true"];
  await Deno.writeTextFile(configPath, JSON.stringify(config));
  return bundle;
}

/** `runc run` of the floor bundle: create, start, wait, delete. */
async function runFloor(bundle: string, root: string, id: string) {
  await must("runc", ["--root", root, "run", "--bundle", bundle, id]);
}

/** Milliseconds `ctr run --rm … true` takes. */
function runLatency(side: Side, id: string): Promise<number> {
  return timed(() => side.must([...side.runArgs("--rm"), id, "true"]));
}

/**
 * MB/s of `ctr run --rm` whose container writes {@linkcode OUTPUT_BYTES}
 * of zeros to its stdout, counted as ctr prints them.
 */
async function outputThroughput(side: Side, id: string): Promise<number> {
  const child = new Deno.Command("ctr", {
    args: [
      "--address",
      side.daemon.address,
      "--namespace",
      NAMESPACE,
      ...side.runArgs("--rm"),
      id,
      "dd",
      "if=/dev/zero",
      "bs=1048576",
      `count=${OUTPUT_BYTES >> 20}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const started = performance.now();
  let bytes = 0;
  for await (const chunk of child.stdout) bytes += chunk.length;
  const { code } = await child.status;
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || bytes !== OUTPUT_BYTES) {
    throw new Error(`${side.name}: ${id} printed ${bytes} bytes, exit ${code}`);
  }
  return bytes / 1e6 / seconds;
}

/**
 * Starts {@linkcode CONTAINERS} containers at once and waits until all
 * run; measures memory then; kills and removes them all at once.
 */
async function scale(side: Side, rows: Rows, run: number, log: Log) {
  const ids = Array.from(
    { length: CONTAINERS },
    (_, i) => `scale-${run}-${i}`,
  );
  const started = performance.now();
  await Promise.all(
    ids.map((id) => side.must([...side.runArgs("-d"), id, "sleep", "3600"])),
  );
  for (
    let running = await side.running();
    ids.some((id) => !running.has(id));
  ) {
    if (performance.now() - started > 120_000) {
      throw new Error(`${side.name}: not all ${CONTAINERS} running in 120 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
    running = await side.running();
  }
  const startSeconds = (performance.now() - started) / 1000;
  record(rows.start, side.name, startSeconds);

  const rss = await procMB(`/proc/${side.daemon.pid}/status`, "VmRSS");
  record(rows.daemonRss, side.name, rss);
  const shims = await side.shimPids();
  if (shims.length === 0) throw new Error(`${side.name}: no shims found`);
  const total = await shimsPss(side);
  const daemonPss = await procMB(
    `/proc/${side.daemon.pid}/smaps_rollup`,
    "Pss",
  );
  const held = await memfdsMB([side.daemon.pid, ...shims]);
  record(rows.shims, side.name, shims.length);
  record(rows.shimsPss, side.name, total);
  record(rows.totalPss, side.name, daemonPss + total + held);

  const cleanupSeconds =
    await timed(() => Promise.all(ids.map((id) => side.remove(id)))) / 1000;
  record(rows.cleanup, side.name, cleanupSeconds);
  const { containers } = await side.client.service(Containers).list({});
  if (containers.length) {
    const left = containers.map((c) => c.id).join(" ");
    throw new Error(`${side.name}: left after removal: ${left}`);
  }
  log(
    `run: ${side.name} run ${run + 1}: ${CONTAINERS} running in ${
      startSeconds.toFixed(1)
    } s, daemon RSS ${rss.toFixed(0)} MB, ${shims.length} shims ${
      total.toFixed(0)
    } MB PSS, daemon+shims ${(daemonPss + total).toFixed(0)} MB PSS + ${
      held.toFixed(1)
    } MB of memfds, removed in ${cleanupSeconds.toFixed(1)} s`,
  );
}

/**
 * The size of the memfds processes `pids` hold open, each counted once, in
 * MB: memory that no process's PSS shows while nobody maps it.
 */
async function memfdsMB(pids: number[]): Promise<number> {
  const sizes = new Map<number, number>();
  for (const pid of pids) {
    for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
      const fd = `/proc/${pid}/fd/${entry.name}`;
      try {
        if (!(await Deno.readLink(fd)).startsWith("/memfd:")) continue;
        const info = await Deno.stat(fd);
        sizes.set(info.ino ?? 0, info.size);
      } catch {
        // closed meanwhile
      }
    }
  }
  return [...sizes.values()].reduce((a, b) => a + b, 0) / 2 ** 20;
}

/** The total PSS of the side's shim processes, in MB. */
async function shimsPss(side: Side): Promise<number> {
  const pss = await Promise.all(
    (await side.shimPids()).map((pid) =>
      procMB(`/proc/${pid}/smaps_rollup`, "Pss")
    ),
  );
  return pss.reduce((a, b) => a + b, 0);
}

/**
 * The shims' memory as containers are added: {@linkcode SHIM_STEPS}
 * running, each step started at once.
 */
async function shimMemory(side: Side, rows: Rows, run: number, log: Log) {
  const ids: string[] = [];
  try {
    for (const [step, n] of SHIM_STEPS.entries()) {
      const more = Array.from(
        { length: n - ids.length },
        (_, i) => `mem-${run}-${ids.length + i}`,
      );
      await Promise.all(
        more.map((id) =>
          side.must([...side.runArgs("-d"), id, "sleep", "3600"])
        ),
      );
      ids.push(...more);
      const mb = await shimsPss(side);
      record(rows.shimSteps[step], side.name, mb);
      log(`run: ${side.name} shims with ${n} running: ${mb.toFixed(1)} MB PSS`);
    }
  } finally {
    await Promise.all(ids.map((id) => side.remove(id)));
  }
}

/**
 * Latency of `ctr tasks exec … true` in a running container per side, the
 * sides taking turns exec by exec (an exec is short next to a busy moment of
 * the machine). A side whose first exec fails is marked unavailable, with
 * what ctr said.
 */
async function execLatency(sides: Side[], rows: Rows, run: number, log: Log) {
  // An id per side: ctr puts a container in cgroup /NAMESPACE/ID, so the
  // sides' containers, alive at once here, would share their cgroups, and
  // one side's `runc kill --all` (freeze, kill, thaw) reached the other's
  // processes (once: berth's runc delete found the cgroup frozen, "paused").
  const idOf = (side: Side) => `exec-${run}-${side.name}`;
  const live = sides.filter((side) =>
    rows.exec.unavailable?.[side.name] === undefined
  );
  await Promise.all(
    live.map((side) =>
      side.must([...side.runArgs("-d"), idOf(side), "sleep", "3600"])
    ),
  );
  try {
    for (let i = 0; i < EXEC_SAMPLES; i++) {
      for (const side of live) {
        if (rows.exec.unavailable?.[side.name] !== undefined) continue;
        const args = [
          "tasks",
          "exec",
          "--exec-id",
          `true-${i}`,
          "--fifo-dir",
          side.fifos,
          idOf(side),
          "true",
        ];
        const started = performance.now();
        const out = await side.ctr(args);
        const ms = performance.now() - started;
        if (out.code !== 0) {
          const why = out.stderr.trim().split("\n").at(-1) ?? "";
          if (rows.exec.runs[side.name]?.length) {
            throw new Error(`${side.name}: ctr ${args.join(" ")}: ${why}`);
          }
          (rows.exec.unavailable ??= {})[side.name] = why;
          log(`run: ${side.name} cannot exec: ${why}`);
          continue;
        }
        record(rows.exec, side.name, ms);
      }
    }
  } finally {
    await Promise.all(live.map((side) => side.remove(idOf(side))));
  }
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const { log, scratch } = options;
  const busybox = await buildImage("busybox");
  const archive = join(scratch, "busybox.tar");
  await saveOciArchive(busybox.layout, archive, IMAGE);
  const floorBundle = await prepareFloor(
    scratch,
    join(busybox.layout, "blobs", ...busybox.layers[0].digest.split(":")),
  );
  const floorRoot = join(scratch, "runc-root");
  const sides: Side[] = [];
  const rows = makeRows();
  try {
    for (const daemon of options.daemons) {
      sides.push(await prepareSide(daemon, archive, scratch));
    }
    // One untimed container each: the first run pays for caches.
    for (const side of sides) await runLatency(side, "warm-up");
    await runFloor(floorBundle, floorRoot, "warm-up");
    // Runs alternate between the sides, so that a busy moment of the
    // machine does not fall on one side only.
    for (let i = 0; i < options.runs; i++) {
      for (let k = 0; k < LATENCY_SAMPLES; k++) {
        for (const side of sides) {
          record(rows.run, side.name, await runLatency(side, `run-${i}-${k}`));
        }
        record(
          rows.run,
          FLOOR,
          await timed(() =>
            runFloor(floorBundle, floorRoot, `floor-${i}-${k}`)
          ),
        );
      }
      log(`run: run --rm true, run ${i + 1}/${options.runs} done`);
      await execLatency(sides, rows, i, log);
      for (const side of sides) {
        const mbs = await outputThroughput(side, `output-${i}`);
        record(rows.output, side.name, mbs);
        log(`run: ${side.name} 1 GiB to stdout at ${mbs.toFixed(0)} MB/s`);
      }
      for (const side of sides) await scale(side, rows, i, log);
      for (const side of sides) await shimMemory(side, rows, i, log);
    }
  } finally {
    await Promise.all(sides.map((side) => side.removeAll()));
    const left = await command("runc", ["--root", floorRoot, "list", "-q"]);
    for (const id of left.stdout.split("\n").filter(Boolean)) {
      await command("runc", ["--root", floorRoot, "delete", "--force", id]);
    }
  }
  const { shimSteps, ...single } = rows;
  const list = [...Object.values(single), ...shimSteps];
  for (const row of list) {
    for (const [side, values] of Object.entries(row.runs)) {
      row.median[side] = median(values);
    }
  }
  return {
    bench: name,
    params: {
      containers: CONTAINERS,
      latencySamples: options.runs * LATENCY_SAMPLES,
      runs: options.runs,
      image: "busybox",
      floor: "runc run",
    },
    rows: list,
  };
}
