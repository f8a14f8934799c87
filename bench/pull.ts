/**
 * Cold pulls from a loopback registry: `berth ctr images pull` (the
 * daemon's server-side pull, unpacking while it downloads) against the
 * real `ctr images pull` against containerd, for the 200 MB multi-layer
 * test image and the one-layer busybox image. Every run starts a fresh
 * daemon, so nothing is cached.
 *
 * @module
 */
import { berthCtrArgs } from "../tests/_harness.ts";
import { buildImage } from "../tests/fixtures/images.ts";
import { pushLayout, startRegistry } from "../tests/fixtures/registry.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  medians,
} from "./_bench.ts";
import { startBerth, startContainerd } from "./_daemons.ts";

/** The module's name for `deno task bench pull`. */
export const name = "pull";

/** Runs a command; returns its duration in seconds, or throws on failure. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return (performance.now() - started) / 1000;
}

/** Runs the benchmark. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const sides = options.daemons.map((d) => d.name);
  await using registry = await startRegistry();
  const images = {
    multilayer: await buildImage("multilayer"),
    busybox: await buildImage("busybox"),
  };
  const refs: Record<string, string> = {};
  for (const [key, image] of Object.entries(images)) {
    await pushLayout(registry, image.layout, `${key}:latest`);
    refs[key] = `${registry.host}/${key}:latest`;
  }
  const rows: BenchRow[] = [];
  for (const key of Object.keys(images)) {
    const runs: Record<string, number[]> = {};
    for (let i = 0; i < options.runs; i++) {
      for (const side of sides) {
        const daemon = side === "berth"
          ? await startBerth()
          : await startContainerd();
        try {
          const seconds = side === "berth"
            ? await timed(
              Deno.execPath(),
              berthCtrArgs(daemon.address, [
                "images",
                "pull",
                "--plain-http",
                refs[key],
              ]),
            )
            : await timed("ctr", [
              "--address",
              daemon.address,
              "images",
              "pull",
              "--plain-http",
              refs[key],
            ]);
          (runs[side] ??= []).push(seconds);
          options.log(
            `pull: ${side} ${key} run ${i + 1}/${options.runs}: ${
              seconds.toFixed(2)
            } s`,
          );
        } finally {
          await daemon.stop();
        }
      }
    }
    rows.push({
      operation: `cold pull ${key} (s)`,
      unit: "s",
      higherIsBetter: false,
      median: medians(runs),
      runs,
    });
  }
  return {
    bench: name,
    params: {
      multilayerBytes: images.multilayer.layers.reduce((n, l) => n + l.size, 0),
      runs: options.runs,
      client: "berth ctr / ctr",
    },
    rows,
  };
}
