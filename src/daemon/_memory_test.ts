import assert from "node:assert/strict";
import { type Fields, type Level, LEVELS, type Logger } from "../log/mod.ts";
import { ManualClock } from "../types/_testing.ts";
import { MemoryHousekeeping } from "./_memory.ts";

/** A logger that keeps its lines at `threshold` and above. */
function recordingLogger(
  threshold: Level,
): Logger & { lines: [Level, string, Fields][] } {
  const lines: [Level, string, Fields][] = [];
  const logger = {
    lines,
    enabled: (level: Level) =>
      LEVELS.indexOf(level) >= LEVELS.indexOf(threshold),
    log: (level: Level, msg: string, fields: Fields = {}) =>
      void (logger.enabled(level) && lines.push([level, msg, fields])),
    debug: (msg: string, fields?: Fields) => logger.log("debug", msg, fields),
    info: (msg: string, fields?: Fields) => logger.log("info", msg, fields),
    warn: (msg: string, fields?: Fields) => logger.log("warn", msg, fields),
    error: (msg: string, fields?: Fields) => logger.log("error", msg, fields),
    with: () => logger,
  };
  return logger;
}

function housekeeping(gc: boolean, threshold: Level = "debug") {
  const clock = new ManualClock();
  const logger = recordingLogger(threshold);
  const counts = { trims: 0, gcs: 0 };
  const memory = new MemoryHousekeeping({
    logger,
    idleMs: 10_000,
    busyGcMs: 5_000,
    clock,
    trim: () => ++counts.trims > 0,
    gc: gc ? () => void counts.gcs++ : undefined,
  });
  return { clock, logger, counts, memory };
}

Deno.test("MemoryHousekeeping trims once the calls stop, and logs what it gave at debug", () => {
  const { clock, logger, counts, memory } = housekeeping(false);
  for (let i = 0; i < 20; i++) {
    memory.touch();
    clock.advance(1_000);
  }
  assert.equal(counts.trims, 0, "no trim while calls keep coming");
  clock.advance(9_000);
  assert.equal(counts.trims, 1);
  clock.advance(60_000);
  assert.equal(counts.trims, 1, "one trim per quiet period");
  const [[level, msg, fields]] = logger.lines;
  assert.equal(level, "debug");
  assert.equal(msg, "idle: memory collected and trimmed");
  assert.equal(fields.released, true);
  for (const key of ["rssBeforeMB", "rssAfterMB", "heapUsedMB"]) {
    assert.ok((fields[key] as number) > 0, key);
  }
  memory.touch();
  memory.close();
  clock.advance(60_000);
  assert.equal(counts.trims, 1, "closed with the daemon");
});

Deno.test("MemoryHousekeeping collects garbage at most every busyGcMs while calls come", () => {
  const { clock, counts, memory } = housekeeping(true);
  // 20 s of calls, one every 100 ms.
  for (let i = 0; i < 200; i++) {
    memory.touch();
    clock.advance(100);
  }
  assert.equal(counts.gcs, 3, "at 5, 10 and 15 s: after a call, never in it");
  clock.advance(60_000);
  assert.equal(counts.gcs, 4, "one more with the idle trim, then none");
  assert.equal(counts.trims, 1);
  memory.touch();
  memory.close();
  clock.advance(0);
  assert.equal(counts.gcs, 4, "a pending collection is cancelled on close");
});

/** Runs `fn` counting the calls of `Deno.memoryUsage`. */
function countingMemoryUsage(fn: () => void): number {
  const real = Deno.memoryUsage;
  let calls = 0;
  Deno.memoryUsage = () => (calls++, real());
  try {
    fn();
  } finally {
    Deno.memoryUsage = real;
  }
  return calls;
}

/** 20 s of calls, one every 100 ms, then a minute of quiet. */
function busyThenQuiet(threshold: Level) {
  const run = housekeeping(true, threshold);
  const memoryUsages = countingMemoryUsage(() => {
    for (let i = 0; i < 200; i++) {
      run.memory.touch();
      run.clock.advance(100);
    }
    run.clock.advance(60_000);
  });
  run.memory.close();
  return { ...run, memoryUsages };
}

Deno.test("MemoryHousekeeping reads memory usage only when debug lines are written", () => {
  const quiet = busyThenQuiet("info");
  assert.equal(quiet.counts.gcs, 4, "it still collects");
  assert.equal(quiet.counts.trims, 1, "and trims");
  assert.equal(quiet.memoryUsages, 0);
  assert.deepEqual(quiet.logger.lines, []);

  const debug = busyThenQuiet("debug");
  assert.equal(
    debug.memoryUsages,
    3 + 2,
    "after each busy GC, around the trim",
  );
  assert.equal(debug.logger.lines.length, 4);
});
