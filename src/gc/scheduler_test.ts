import assert from "node:assert/strict";
import { GcScheduler, type GcSchedulerOptions } from "./scheduler.ts";

/** containerd's defaults, with no start-up collection unless asked. */
function scheduler(
  collect: () => Promise<void>,
  options: Partial<GcSchedulerOptions> = {},
): GcScheduler {
  return new GcScheduler({
    collect,
    pauseThreshold: 0.02,
    deletionThreshold: 0,
    mutationThreshold: 100,
    scheduleDelayMs: 0,
    startupDelayMs: 0,
    ...options,
  });
}

/** A collector that counts runs and can be awaited for the next one. */
function counter() {
  let runs = 0;
  let next = Promise.withResolvers<void>();
  return {
    get runs() {
      return runs;
    },
    next: () => next.promise,
    collect: () => {
      runs++;
      next.resolve();
      next = Promise.withResolvers<void>();
      return Promise.resolve();
    },
  };
}

Deno.test("a start-up collection runs, and started settles after it", async () => {
  const c = counter();
  const gc = scheduler(c.collect, { startupDelayMs: 1 });
  await gc.started;
  assert.equal(c.runs, 1);
  await gc.close();
});

Deno.test("mutations below the threshold collect nothing; reaching it does", async () => {
  const c = counter();
  const gc = scheduler(c.collect);
  await gc.started;
  for (let i = 0; i < 99; i++) gc.mutated(false);
  assert.equal(gc.due, false);
  const ran = c.next();
  gc.mutated(false);
  assert.equal(gc.due, true);
  await ran;
  assert.equal(c.runs, 1);
  await gc.close();
});

Deno.test("with mutation_threshold 0, mutations alone never collect", async () => {
  const c = counter();
  const gc = scheduler(c.collect, { mutationThreshold: 0 });
  for (let i = 0; i < 1000; i++) gc.mutated(false);
  assert.equal(gc.due, false);
  assert.equal(c.runs, 0);
  await gc.runNow();
  assert.equal(c.runs, 1);
  await gc.close();
});

Deno.test("deletion_threshold collects as soon as that many deletions pass", async () => {
  const c = counter();
  const gc = scheduler(c.collect, { deletionThreshold: 3 });
  gc.mutated(true);
  gc.mutated(true);
  assert.equal(gc.due, false);
  const ran = c.next();
  gc.mutated(true);
  assert.equal(gc.due, true);
  await ran;
  assert.equal(c.runs, 1);
  await gc.close();
});

Deno.test("a deletion before any collection is scheduled collects at once", async () => {
  const c = counter();
  const gc = scheduler(c.collect);
  const ran = c.next();
  gc.mutated(true);
  await ran;
  assert.equal(c.runs, 1);
  await gc.close();
});

Deno.test("runNow waits for a full run that starts after it", async () => {
  const order: string[] = [];
  let release!: () => void;
  const firstStarted = Promise.withResolvers<void>();
  let first = true;
  const gc = scheduler(async () => {
    order.push("start");
    if (first) {
      first = false;
      firstStarted.resolve();
      await new Promise<void>((r) => release = r);
    }
    order.push("end");
  });
  const a = gc.runNow();
  await firstStarted.promise;
  const b = gc.runNow();
  const c = gc.runNow();
  release();
  await Promise.all([a, b, c]);
  assert.deepEqual(order, ["start", "end", "start", "end"]);
  await gc.close();
});

Deno.test("a failed run rejects its waiters and does not stop later runs", async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const gc = scheduler(() => {
    runs++;
    return runs === 1 ? Promise.reject(new Error("boom")) : Promise.resolve();
  }, { onError: (err) => errors.push(err) });
  await assert.rejects(gc.runNow(), /boom/);
  await gc.runNow();
  assert.equal(runs, 2);
  assert.equal(errors.length, 1);
  await gc.close();
});
