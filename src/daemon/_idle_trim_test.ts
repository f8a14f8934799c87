import assert from "node:assert/strict";
import type { Fields, Level, Logger } from "../log/mod.ts";
import { ManualClock } from "../types/_testing.ts";
import { idleTrim } from "./_idle_trim.ts";

/** A logger that keeps its lines. */
function recordingLogger(): Logger & { lines: [Level, string, Fields][] } {
  const lines: [Level, string, Fields][] = [];
  const logger = {
    lines,
    log: (level: Level, msg: string, fields: Fields = {}) =>
      void lines.push([level, msg, fields]),
    debug: (msg: string, fields?: Fields) => logger.log("debug", msg, fields),
    info: (msg: string, fields?: Fields) => logger.log("info", msg, fields),
    warn: (msg: string, fields?: Fields) => logger.log("warn", msg, fields),
    error: (msg: string, fields?: Fields) => logger.log("error", msg, fields),
    with: () => logger,
  };
  return logger;
}

Deno.test("idleTrim trims once the calls stop, and logs what it gave at debug", () => {
  const clock = new ManualClock();
  const logger = recordingLogger();
  let trims = 0;
  const idle = idleTrim({
    logger,
    ms: 10_000,
    clock,
    trim: () => ++trims > 0,
  });
  for (let i = 0; i < 20; i++) {
    idle.touch();
    clock.advance(1_000);
  }
  assert.equal(trims, 0, "no trim while calls keep coming");
  clock.advance(9_000);
  assert.equal(trims, 1);
  clock.advance(60_000);
  assert.equal(trims, 1, "one trim per quiet period");
  const [[level, msg, fields]] = logger.lines;
  assert.equal(level, "debug");
  assert.equal(msg, "idle: memory trimmed");
  assert.equal(fields.released, true);
  for (const key of ["rssBeforeMB", "rssAfterMB", "heapUsedMB"]) {
    assert.ok((fields[key] as number) > 0, key);
  }
  idle.touch();
  idle.cancel();
  clock.advance(60_000);
  assert.equal(trims, 1, "cancelled with the daemon");
});
