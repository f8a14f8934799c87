import assert from "node:assert/strict";
import { join } from "node:path";
import { Code } from "../types/errors.ts";
import { countingTimers } from "../sys/_testing.ts";
import {
  Channel,
  encodeHeader,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from "./channel.ts";
import { TtrpcServer } from "./server.ts";
import { decodeResponse, encodeRequest } from "./wire.ts";

async function rawSetup() {
  const dir = await Deno.makeTempDir({ prefix: "ttrpc-" });
  const path = join(dir, "s.sock");
  const server = new TtrpcServer();
  server.register("test.Echo", {
    Echo: (payload, ctx) =>
      Promise.resolve(
        new TextEncoder().encode(
          `${new TextDecoder().decode(payload)}|${ctx.metadata.k?.join(",")}`,
        ),
      ),
  });
  server.listen(path);
  const conn = await Deno.connect({ transport: "unix", path });
  return { server, conn, channel: new Channel(conn), dir };
}

const request = (payload: string, metadata = {}, timeoutNano = 0n) =>
  encodeRequest({
    service: "test.Echo",
    method: "Echo",
    payload: new TextEncoder().encode(payload),
    timeoutNano,
    metadata,
  });

Deno.test("raw handler round trip, even stream id refused, responses ignored", async () => {
  const s = await rawSetup();
  try {
    await s.channel.send(2, MessageType.Request, request("a"));
    let f = await s.channel.recv();
    assert.equal(f?.header.streamId, 2);
    assert.equal(decodeResponse(f!.data!).status?.code, Code.InvalidArgument);

    await s.channel.send(3, MessageType.Response, request("ignored"));
    await s.channel.send(
      5,
      MessageType.Request,
      request("b", { k: ["x", "y"] }),
    );
    f = await s.channel.recv();
    assert.equal(f?.header.streamId, 5);
    assert.equal(f?.header.type, MessageType.Response);
    const res = decodeResponse(f!.data!);
    assert.equal(res.status, undefined);
    assert.equal(new TextDecoder().decode(res.payload), "b|x,y");
  } finally {
    s.channel.close();
    await s.server.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("oversized raw frame gets ResourceExhausted and the connection survives", async () => {
  const s = await rawSetup();
  try {
    const len = MESSAGE_LENGTH_MAX + 10;
    const header = encodeHeader({
      length: len,
      streamId: 7,
      type: 1,
      flags: 0,
    });
    const body = new Uint8Array(len);
    const writing = (async () => {
      for (const p of [header, body]) {
        let off = 0;
        while (off < p.length) off += await s.conn.write(p.subarray(off));
      }
    })();
    let f = await s.channel.recv();
    await writing;
    assert.equal(f?.header.streamId, 7);
    const st = decodeResponse(f!.data!).status;
    assert.equal(st?.code, Code.ResourceExhausted);
    assert.match(st!.message, /exceeds maximum message size/);

    await s.channel.send(9, MessageType.Request, request("c"));
    f = await s.channel.recv();
    assert.equal(f?.header.streamId, 9);
    assert.equal(
      new TextDecoder().decode(decodeResponse(f!.data!).payload),
      "c|undefined",
    );
  } finally {
    s.channel.close();
    await s.server.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("close without listen resolves, listen twice fails", async () => {
  const server = new TtrpcServer();
  await server.close();
  const dir = await Deno.makeTempDir({ prefix: "ttrpc-" });
  try {
    const s2 = new TtrpcServer();
    s2.listen(join(dir, "a.sock"));
    assert.throws(() => s2.listen(join(dir, "b.sock")));
    await s2.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("calls with a deadline answered in time arm one timer between them, not one each", async () => {
  const s = await rawSetup();
  try {
    const armed = await countingTimers(async () => {
      for (let id = 1; id < 40; id += 2) {
        await s.channel.send(
          id,
          MessageType.Request,
          request(`${id}`, {}, 5_000_000_000n),
        );
        const f = await s.channel.recv();
        assert.equal(
          new TextDecoder().decode(decodeResponse(f!.data!).payload),
          `${id}|undefined`,
        );
      }
    });
    assert.equal(armed, 1);
  } finally {
    s.channel.close();
    await s.server.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("a call past its deadline is answered DeadlineExceeded and its handler's signal aborts; a call on a connection that ends is canceled", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ttrpc-" });
  const path = join(dir, "s.sock");
  const server = new TtrpcServer();
  const aborted: { method: string; reason: unknown }[] = [];
  const { promise: bothAborted, resolve } = Promise.withResolvers<void>();
  const hold = (_: Uint8Array, ctx: { method: string; signal: AbortSignal }) =>
    new Promise<Uint8Array>((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted.push({ method: ctx.method, reason: ctx.signal.reason });
        if (aborted.length === 2) resolve();
        reject(ctx.signal.reason);
      });
    });
  server.register("test.Hold", { Expires: hold, Dropped: hold });
  server.listen(path);
  const conn = await Deno.connect({ transport: "unix", path });
  const channel = new Channel(conn);
  const call = (method: string, timeoutNano: bigint) =>
    encodeRequest({
      service: "test.Hold",
      method,
      payload: new Uint8Array(),
      timeoutNano,
      metadata: {},
    });
  try {
    await channel.send(1, MessageType.Request, call("Dropped", 0n));
    await channel.send(3, MessageType.Request, call("Expires", 20_000_000n));
    const f = await channel.recv();
    assert.equal(f?.header.streamId, 3);
    assert.equal(decodeResponse(f!.data!).status?.code, Code.DeadlineExceeded);
    channel.close();
    await bothAborted;
    assert.deepEqual(
      aborted.map((
        { method, reason },
      ) => [method, (reason as { code: Code }).code]),
      [["Expires", Code.DeadlineExceeded], ["Dropped", Code.Canceled]],
    );
  } finally {
    channel.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
