import assert from "node:assert/strict";
import { buildTar } from "../archive/_testing.ts";
import { withTestDir } from "../mount/_testing.ts";
import { ManualClock } from "../types/_testing.ts";
import { ApplyThread } from "./_apply_thread.ts";

/** A layer holding `name` with `text`. */
function layer(name: string, text: string): Promise<Uint8Array> {
  return buildTar([{
    header: { name, type: "file", mode: 0o644 },
    body: text,
  }]);
}

/** Applies `bytes` in `thread` onto `dir`, through a bind mount. */
function applyInto(
  thread: ApplyThread,
  dir: string,
  bytes: Uint8Array | ReadableStream<Uint8Array>,
) {
  return thread.apply(
    {
      mounts: [{ type: "bind", source: dir, options: ["rbind"] }],
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      tempRoot: dir,
    },
    bytes instanceof ReadableStream ? bytes : ReadableStream.from([bytes]),
  );
}

Deno.test("ApplyThread stops its worker once idle and starts another for the next job", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/target`;
    await Deno.mkdir(target);
    const clock = new ManualClock();
    const thread = new ApplyThread({ idleMs: 1234, clock });
    try {
      assert.equal(thread.running, false, "no worker before the first job");
      await applyInto(thread, target, await layer("one", "1"));
      assert.equal(await Deno.readTextFile(`${target}/one`), "1");
      assert.equal(thread.running, true);
      assert.deepEqual(clock.armed, [1234]);

      clock.advance(1233);
      assert.equal(thread.running, true);
      clock.advance(1);
      assert.equal(thread.running, false, "the idle worker is stopped");

      await applyInto(thread, target, await layer("two", "2"));
      assert.equal(await Deno.readTextFile(`${target}/two`), "2");
      assert.equal(thread.running, true);
      assert.deepEqual(clock.armed, [1234]);
    } finally {
      thread.close();
    }
    assert.deepEqual(clock.armed, [], "close cancels the idle stop");
  });
});

Deno.test("ApplyThread keeps its worker while a job is still running", async () => {
  await withTestDir(async (dir) => {
    const target = `${dir}/target`;
    await Deno.mkdir(target);
    const clock = new ManualClock();
    const thread = new ApplyThread({ idleMs: 100, clock });
    try {
      await applyInto(thread, target, await layer("first", "1"));
      assert.deepEqual(clock.armed, [100]);
      // A second job whose bytes have not all come: starting it cancels
      // the idle stop, and nothing stops the worker under it.
      const bytes = await layer("slow", "s");
      let feed!: ReadableStreamDefaultController<Uint8Array>;
      const source = new ReadableStream<Uint8Array>({
        start: (controller) => void (feed = controller),
      });
      const applying = applyInto(thread, target, source);
      assert.deepEqual(clock.armed, [], "a new job cancels the idle stop");
      feed.enqueue(bytes.slice(0, 512));
      clock.advance(1000);
      assert.equal(thread.running, true);
      feed.enqueue(bytes.slice(512));
      feed.close();
      await applying;
      assert.equal(await Deno.readTextFile(`${target}/slow`), "s");
      assert.deepEqual(clock.armed, [100], "idle again once the job is done");
    } finally {
      thread.close();
    }
  });
});
