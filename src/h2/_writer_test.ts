import assert from "node:assert/strict";
import * as net from "node:net";
import { type Frame, FrameDecoder, FrameType } from "./frames.ts";
import { FrameWriter } from "./_writer.ts";

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

Deno.test("frame writer: turns written while the socket still holds earlier ones arrive intact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-h2-writer-" });
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  const client = net.connect(path);
  const conn = await listener.accept();
  try {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder(1 << 20);
    const count = 300;
    const everything = Promise.withResolvers<void>();
    client.on("data", (chunk: Uint8Array) => {
      decoder.push(chunk, (frame) => {
        frames.push({ ...frame, payload: frame.payload.slice() });
        return true;
      });
      if (frames.length === count) everything.resolve();
    });
    // The reader stops now and then, so that the socket holds written
    // turns unsent while later turns are gathered.
    client.pause();
    let drained = 0;
    const writer = new FrameWriter(conn, () => drained++);
    for (let i = 0; i < count; i++) {
      // Turns of different sizes, each frame filled with its own number.
      const payload = new Uint8Array(1000 + (i % 7) * 20_000).fill(i & 0xff);
      writer.frame(FrameType.DATA, 0, 2 * i + 1, payload);
      await turn();
      if (i % 50 === 49) {
        assert.ok(writer.blocked, `turn ${i}: the socket took everything`);
        client.resume();
        while (writer.blocked) await turn();
        client.pause();
      }
    }
    client.resume();
    await everything.promise;
    assert.ok(drained > 0);
    for (const [i, frame] of frames.entries()) {
      assert.equal(frame.streamId, 2 * i + 1);
      assert.equal(frame.payload.length, 1000 + (i % 7) * 20_000);
      assert.ok(
        frame.payload.every((byte) => byte === (i & 0xff)),
        `frame ${i}'s payload was overwritten`,
      );
    }
  } finally {
    client.destroy();
    conn.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
