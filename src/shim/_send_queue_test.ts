import assert from "node:assert/strict";
import { SendQueue } from "./_send_queue.ts";

Deno.test("items are sent one at a time, in order", async () => {
  const sent: number[] = [];
  let busy = false;
  const queue = new SendQueue<number>(async (item) => {
    assert.ok(!busy, "one at a time");
    busy = true;
    await Promise.resolve();
    sent.push(item);
    busy = false;
  });
  for (const item of [1, 2, 3]) queue.push(item);
  await queue.flush();
  queue.push(4);
  await queue.flush();
  assert.deepEqual(sent, [1, 2, 3, 4]);
});

Deno.test("a failed send does not stop the items after it", async () => {
  const sent: string[] = [];
  const queue = new SendQueue<string>((item) => {
    sent.push(item);
    return item === "a" ? Promise.reject(new Error("down")) : Promise.resolve();
  });
  queue.push("a");
  queue.push("b");
  await queue.flush();
  assert.deepEqual(sent, ["a", "b"]);
});

Deno.test("an item queued in the turns around the loop's end is sent", async () => {
  // The shim's exit event, queued as the send of its exec-started event
  // completed, stayed queued unsent (docker exec waited for it forever):
  // it is queued here at each microtask around the loop finding the queue
  // empty, which is where it came.
  for (let turns = 0; turns < 8; turns++) {
    const sent: string[] = [];
    const first = Promise.withResolvers<void>();
    const queue = new SendQueue<string>((item) => {
      sent.push(item);
      return item === "first" ? first.promise : Promise.resolve();
    });
    queue.push("first");
    let later = first.promise;
    for (let i = 0; i < turns; i++) later = later.then();
    const queued = later.then(() => queue.push("second"));
    first.resolve();
    await queued;
    await queue.flush();
    assert.deepEqual(sent, ["first", "second"], `queued ${turns} turns later`);
  }
});
