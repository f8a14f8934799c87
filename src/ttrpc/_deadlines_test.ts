import assert from "node:assert/strict";
import { countingTimers } from "../sys/_testing.ts";
import { Deadlines, type Expiring } from "./_deadlines.ts";

function item(
  inMs: number,
  expired: string[],
  name: string,
): Expiring & { done: Promise<void> } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    deadline: performance.now() + inMs,
    expire() {
      expired.push(name);
      resolve();
    },
    done: promise,
  };
}

Deno.test("deadlines expire in order on one timer, an earlier one moving it", async () => {
  const deadlines = new Deadlines();
  // The shared timer never keeps a process alive: this does, meanwhile.
  const alive = setTimeout(() => {}, 60_000);
  try {
    const expired: string[] = [];
    const late = item(3_600_000, expired, "late");
    const first = item(10, expired, "first");
    const second = item(30, expired, "second");
    const gone = item(20, expired, "gone");
    deadlines.add(late);
    deadlines.add(second);
    deadlines.add(first);
    deadlines.add(gone);
    deadlines.delete(gone);
    await second.done;
    assert.deepEqual(expired, ["first", "second"]);
  } finally {
    deadlines.clear();
    clearTimeout(alive);
  }
});

Deno.test("deadlines: items one after another with the same timeout arm one timer", async () => {
  const deadlines = new Deadlines();
  try {
    const armed = await countingTimers(async () => {
      for (let i = 0; i < 20; i++) {
        const call = item(5_000, [], `call ${i}`);
        deadlines.add(call);
        await Promise.resolve();
        deadlines.delete(call);
      }
    });
    assert.equal(armed, 1);
  } finally {
    deadlines.clear();
  }
});

Deno.test("deadlines: one further away than a timer can wait is waited for in steps, not at once", () => {
  const deadlines = new Deadlines();
  const { setTimeout: timeout } = globalThis;
  const delays: number[] = [];
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return timeout(fn, ms);
  }) as typeof setTimeout;
  try {
    // 30 days: a timer given more than 2^31 - 1 ms fires after 1 ms, and
    // the shared timer would be re-armed every millisecond until then.
    deadlines.add(item(30 * 24 * 3_600_000, [], "far"));
  } finally {
    globalThis.setTimeout = timeout;
    deadlines.clear();
  }
  assert.equal(delays.length, 1);
  assert.ok(delays[0] <= 2 ** 31 - 1, `timer armed for ${delays[0]} ms`);
});
