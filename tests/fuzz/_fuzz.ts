/**
 * Shared settings of the fuzz targets in this directory.
 *
 * In the test suite every target runs a fixed number of cases from a fixed
 * seed, so a run takes a few seconds and fails the same way every time.
 * `deno task fuzz` sets `BERTH_FUZZ_SCALE` (cases × scale, a new seed per
 * run unless `BERTH_FUZZ_SEED` fixes one): fast-check prints the seed and
 * the shrunk counterexample of any failure, which then becomes a fixed
 * regression test beside the code it broke.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Parameters } from "fast-check";
import { BerthError } from "../../src/types/mod.ts";

/** Errors that mean a bug in the code, never a verdict on the input. */
const INTERNAL_ERRORS = [TypeError, RangeError, ReferenceError];

/** The seed of every target in the suite. */
const SUITE_SEED = 0x6265_7274; // "bert"

/** fast-check parameters for a target that runs `runs` cases in the suite. */
export function fuzzParameters<T>(runs: number): Parameters<T> {
  const scale = Number(Deno.env.get("BERTH_FUZZ_SCALE") ?? "1");
  const seed = Deno.env.get("BERTH_FUZZ_SEED");
  return {
    numRuns: Math.max(1, Math.round(runs * (scale > 0 ? scale : 1))),
    seed: seed ? Number(seed) : scale > 1 ? undefined : SUITE_SEED,
  };
}

/**
 * Asserts that `err` is a clear error: one of `types` (default
 * {@linkcode BerthError}) with a message, never a TypeError or RangeError
 * from deep inside a parser.
 */
export function assertClearError(
  err: unknown,
  // deno-lint-ignore no-explicit-any
  types: (new (...args: any[]) => Error)[] = [BerthError],
): void {
  const stack = err instanceof Error ? err.stack : String(err);
  assert.ok(
    types.some((type) => err instanceof type),
    `not a clear error: ${stack}`,
  );
  assert.ok(
    !INTERNAL_ERRORS.some((type) => (err as Error).constructor === type),
    `an internal error escaped: ${stack}`,
  );
  assert.ok((err as Error).message.length > 0, "an error without a message");
}

/** Runs `fn`; a throw must be a clear error (see {@linkcode assertClearError}). */
export function parsesOrFailsClearly<T>(
  fn: () => T,
  // deno-lint-ignore no-explicit-any
  types?: (new (...args: any[]) => Error)[],
): T | undefined {
  try {
    return fn();
  } catch (err) {
    assertClearError(err, types);
    return undefined;
  }
}
