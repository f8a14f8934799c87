import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { ErrorCode } from "./errors.ts";
import { decodeGoaway, decodeUint32, Flag, FrameType } from "./frames.ts";
import { HpackEncoder } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";
import {
  connect,
  ManualClock,
  post,
  RawPeer,
  request,
  response,
  roundTrip,
  serve,
} from "./_testing.ts";

/** Answers the PING that follows the server's GOAWAY; returns the GOAWAY. */
async function seeGoaway(peer: RawPeer) {
  const goaway = await peer.next((f) => f.type === FrameType.GOAWAY);
  const ping = await peer.next((f) => f.type === FrameType.PING && !f.flags);
  return {
    goaway: decodeGoaway(goaway!.payload),
    ack: () => peer.frame(FrameType.PING, Flag.ACK, 0, ping!.payload),
  };
}

/** A request of grpc-go's (which is told GOAWAY). */
function goRequest(path: string) {
  return [...request(path), ["user-agent", "grpc-go/1.59.0"]] as [
    string,
    string,
  ][];
}

Deno.test("shutdown(), Go client: GOAWAY NO_ERROR and a PING; streams opened before the client answers it are served, later ones refused, then the connection ends", async () => {
  const held: H2Stream[] = [];
  await using server = await serve((stream) => held.push(stream));
  const peer = await RawPeer.connect(server.path);
  const encoder = new HpackEncoder();
  const open = (id: number) =>
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      id,
      encoder.encode(goRequest(`/${id}`)),
    );
  open(1);
  await roundTrip(peer);
  let done = false;
  const shutdown = server.server.shutdown(60_000).then(() => done = true);
  const { goaway, ack } = await seeGoaway(peer);
  assert.equal(goaway.code, ErrorCode.NO_ERROR);
  assert.equal(goaway.lastStreamId, 2 ** 31 - 1);
  // On its way before the client saw the GOAWAY: served.
  open(3);
  ack();
  // After: refused.
  open(5);
  const refused = await peer.next((f) => f.type === FrameType.RST_STREAM);
  assert.equal(refused?.streamId, 5);
  assert.equal(decodeUint32(refused!), ErrorCode.REFUSED_STREAM);
  assert.deepEqual(held.map((stream) => stream.id), [1, 3]);
  assert.equal(done, false);
  held[0].respond([[":status", "200"]], true);
  await roundTrip(peer);
  assert.equal(done, false);
  held[1].respond([[":status", "200"]], true);
  await peer.closed();
  await shutdown;
  assert.deepEqual(
    peer.frames.filter((f) => f.type === FrameType.HEADERS).map((f) =>
      f.streamId
    ),
    [1, 3],
  );
  assert.equal(server.server.connectionCount, 0);
});

Deno.test("shutdown(): an idle Go client is told with GOAWAY and its connection ends once it answers the PING", async () => {
  await using server = await serve((stream) => {
    stream.respond([[":status", "200"]], true);
  });
  const peer = await RawPeer.connect(server.path);
  peer.frame(
    FrameType.HEADERS,
    Flag.END_HEADERS | Flag.END_STREAM,
    1,
    new HpackEncoder().encode(goRequest("/once")),
  );
  await peer.next((f) => f.type === FrameType.HEADERS);
  await roundTrip(peer);
  const shutdown = server.server.shutdown(60_000);
  const { goaway, ack } = await seeGoaway(peer);
  assert.equal(goaway.code, ErrorCode.NO_ERROR);
  ack();
  await peer.closed();
  await shutdown;
});

Deno.test("shutdown(): an idle connection of another client ends at once; streams still open at the deadline are cut off", async () => {
  const clock = new ManualClock();
  const aborts: number[] = [];
  await using server = await serve(
    (stream) => stream.onabort = (code) => aborts.push(code),
    { clock },
  );
  const busy = await RawPeer.connect(server.path);
  const idle = await RawPeer.connect(server.path);
  busy.frame(
    FrameType.HEADERS,
    Flag.END_HEADERS,
    1,
    new HpackEncoder().encode(goRequest("/endless")),
  );
  await roundTrip(busy);
  await roundTrip(idle);
  const shutdown = server.server.shutdown(5000);
  // Asked twice (the daemon's stop and a signal): one shutdown, one deadline.
  const again = server.server.shutdown(5000);
  await idle.closed();
  assert.equal(idle.frames.some((f) => f.type === FrameType.GOAWAY), false);
  (await seeGoaway(busy)).ack();
  await roundTrip(busy);
  assert.equal(server.server.connectionCount, 1);
  clock.advance(5000);
  await busy.closed();
  await shutdown;
  await again;
  // Asked again: already done.
  await server.server.shutdown(5000);
  assert.deepEqual(aborts, [ErrorCode.CANCEL]);
});

Deno.test("shutdown() with 64 calls of node's client in flight, some cancelled meanwhile: no GOAWAY (nghttp2 aborts on one), the calls open are answered, new ones refused", async () => {
  const held: H2Stream[] = [];
  let opened!: () => void;
  const allOpened = new Promise<void>((resolve) => opened = resolve);
  await using server = await serve((stream) => {
    held.push(stream);
    if (held.length === 64) opened();
  });
  const session = await connect(server.path);
  let goaway: number | undefined;
  session.on("goaway", (code) => goaway = code);
  const calls = Array.from({ length: 64 }, () => {
    const stream = session.request(post());
    stream.on("error", () => {});
    stream.end();
    return { stream, answer: response(stream) };
  });
  await allOpened;
  const shutdown = server.server.shutdown(60_000);
  // The client cancels a quarter of its calls and starts 8 more.
  calls.forEach(({ stream }, i) => {
    if (i % 4 === 0) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
  const late = Array.from({ length: 8 }, () => {
    const stream = session.request(post());
    stream.on("error", () => {});
    stream.end();
    return response(stream);
  });
  await roundTripOf(session);
  for (const stream of held) {
    if (!stream.closed) stream.respond([[":status", "200"]], true);
  }
  const answers = await Promise.all(calls.map((call) => call.answer));
  answers.forEach((answer, i) => {
    if (i % 4 === 0) assert.equal(answer.rstCode, ErrorCode.CANCEL);
    else assert.equal(answer.headers[":status"], 200, `call ${i}`);
  });
  for (const answer of await Promise.all(late)) {
    assert.equal(answer.rstCode, ErrorCode.REFUSED_STREAM);
  }
  await shutdown;
  assert.equal(goaway, undefined);
  session.destroy();
});

/** Resolves once the server answered a PING of `session`'s. */
function roundTripOf(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) =>
    session.ping((err) => err ? reject(err) : resolve())
  );
}
