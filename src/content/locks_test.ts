import assert from "node:assert/strict";
import { BerthError, Code } from "../types/mod.ts";
import { formatDuration, isRefLocked, lockRef, tryLockRef } from "./locks.ts";

Deno.test("ref locks exclude a second holder until released", async () => {
  const key = `/test/${crypto.randomUUID()}`;
  const lock = tryLockRef(key, "r1");
  assert.ok(isRefLocked(key));
  assert.throws(() => tryLockRef(key, "r1"), (err) => {
    assert.ok(BerthError.is(err, Code.Unavailable));
    assert.match(
      (err as Error).message,
      /^ref r1 locked for \d+ms \(since \d{4}-\d\d-\d\dT.*Z\): unavailable$/,
    );
    return true;
  });
  await assert.rejects(lockRef(key, "r1", { waitMs: 5 }), BerthError);
  // A holder that lets go soon is waited for.
  setTimeout(() => lock.release(), 5);
  const second = await lockRef(key, "r1");
  lock.release(); // A stale release does not free the new holder.
  assert.ok(isRefLocked(key));
  second.release();
  assert.ok(!isRefLocked(key));
});

Deno.test("writers queued on a held ref take it in their order, each as the one before lets go", async () => {
  const key = `/test/${crypto.randomUUID()}`;
  const first = tryLockRef(key, "r1");
  const order: number[] = [];
  const waiters = Array.from(
    { length: 200 },
    (_, i) =>
      lockRef(key, "r1", { waitMs: 60_000 }).then((lock) => {
        order.push(i);
        assert.ok(isRefLocked(key));
        lock.release();
      }),
  );
  first.release();
  await Promise.all(waiters);
  assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => i));
  assert.ok(!isRefLocked(key));
});

Deno.test("a writer that gave up waiting is not handed the lock later", async () => {
  const key = `/test/${crypto.randomUUID()}`;
  const first = tryLockRef(key, "r1");
  await assert.rejects(
    lockRef(key, "r1", { waitMs: 1 }),
    (err) => BerthError.is(err, Code.Unavailable),
  );
  first.release();
  assert.ok(!isRefLocked(key));
});

Deno.test("formatDuration reads like Go's", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(3200), "3.2s");
  assert.equal(formatDuration(125_000), "2m5s");
  assert.equal(formatDuration(3_603_000), "1h0m3s");
});
