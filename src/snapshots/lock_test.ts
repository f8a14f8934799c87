import assert from "node:assert/strict";
import { RwLock } from "./lock.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

Deno.test("RwLock runs shared holders together and exclusive ones alone", async () => {
  const lock = new RwLock();
  const events: string[] = [];
  let running = 0;
  let maxShared = 0;
  const shared = (name: string) =>
    lock.shared(async () => {
      running++;
      maxShared = Math.max(maxShared, running);
      events.push(`${name}+`);
      await tick();
      events.push(`${name}-`);
      running--;
    });
  const exclusive = (name: string) =>
    lock.exclusive(async () => {
      assert.equal(running, 0);
      events.push(`${name}+`);
      await tick();
      events.push(`${name}-`);
    });
  await Promise.all([
    shared("s1"),
    shared("s2"),
    exclusive("x"),
    shared("s3"),
  ]);
  assert.equal(maxShared, 2);
  // The exclusive waiter holds back the later shared holder.
  assert.deepEqual(events.slice(4), ["x+", "x-", "s3+", "s3-"]);
});

Deno.test("RwLock releases on errors", async () => {
  const lock = new RwLock();
  await assert.rejects(lock.exclusive(() => Promise.reject(new Error("x"))));
  await assert.rejects(lock.shared(() => Promise.reject(new Error("y"))));
  assert.equal(await lock.exclusive(() => Promise.resolve(1)), 1);
});
