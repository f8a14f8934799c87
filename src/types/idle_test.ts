import assert from "node:assert/strict";
import { IdleTimer } from "./idle.ts";
import { ManualClock } from "./_testing.ts";

function counted(clock: ManualClock) {
  const state = { idle: 0 };
  const timer = new IdleTimer({
    ms: 100,
    onIdle: () => state.idle++,
    clock,
  });
  return { state, timer };
}

Deno.test("IdleTimer runs onIdle once, ms after the last touch", () => {
  const clock = new ManualClock();
  const { state, timer } = counted(clock);
  clock.advance(1000);
  assert.equal(state.idle, 0, "never touched: never idle");
  timer.touch();
  clock.advance(60);
  timer.touch();
  timer.touch();
  assert.deepEqual(clock.armed, [100], "one timer however many touches");
  clock.advance(60);
  assert.equal(
    state.idle,
    0,
    "120 ms after the first touch, 60 after the last",
  );
  assert.deepEqual(
    clock.armed,
    [60],
    "re-armed for the rest of 100 after the last",
  );
  clock.advance(40);
  assert.equal(state.idle, 1);
  assert.equal(timer.armed, false);
  clock.advance(1000);
  assert.equal(state.idle, 1, "waits for activity again");
  timer.touch();
  clock.advance(100);
  assert.equal(state.idle, 2);
});

Deno.test("IdleTimer.cancel disarms until the next touch", () => {
  const clock = new ManualClock();
  const { state, timer } = counted(clock);
  timer.touch();
  timer.cancel();
  assert.deepEqual(clock.armed, []);
  clock.advance(1000);
  assert.equal(state.idle, 0);
  timer.touch();
  assert.equal(timer.armed, true);
  clock.advance(100);
  assert.equal(state.idle, 1);
});
