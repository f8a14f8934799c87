import assert from "node:assert/strict";
import { GcScheduler } from "./scheduler.ts";

Deno.test("schedule coalesces many requests into one run", async () => {
  let runs = 0;
  const gc = new GcScheduler({
    collect: () => {
      runs++;
      return Promise.resolve();
    },
    delayMs: 20,
    intervalMs: 0,
  });
  for (let i = 0; i < 10; i++) gc.schedule();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(runs, 1);
  await gc.close();
});

Deno.test("runNow waits for a full run after one in progress", async () => {
  const order: string[] = [];
  let release!: () => void;
  let first = true;
  const gc = new GcScheduler({
    collect: async () => {
      order.push("start");
      if (first) {
        first = false;
        await new Promise<void>((r) => release = r);
      }
      order.push("end");
    },
    delayMs: 0,
    intervalMs: 0,
  });
  const a = gc.runNow();
  await new Promise((r) => setTimeout(r, 5));
  const b = gc.runNow();
  release();
  await Promise.all([a, b]);
  assert.deepEqual(order, ["start", "end", "start", "end"]);
  await gc.close();
});

Deno.test("a failed run is reported and does not stop later runs", async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const gc = new GcScheduler({
    collect: () => {
      runs++;
      return runs === 1 ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
    delayMs: 0,
    intervalMs: 0,
    onError: (err) => errors.push(err),
  });
  await gc.runNow();
  await gc.runNow();
  assert.equal(runs, 2);
  assert.equal(errors.length, 1);
  await gc.close();
});
