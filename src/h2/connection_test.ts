import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import { ErrorCode } from "./errors.ts";
import {
  decodeUint32,
  encodeFrame,
  encodeUint32,
  Flag,
  FrameType,
  MAX_WINDOW,
  Setting,
} from "./frames.ts";
import { type HeaderField, HpackDecoder, HpackEncoder } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";
import {
  codeName,
  connect,
  post,
  RawPeer,
  response,
  serve,
  settingsFrame,
} from "./_testing.ts";

/** Answers with the request body, upper-cased, and a trailer. */
function echo(stream: H2Stream) {
  const chunks: Uint8Array[] = [];
  stream.ondata = (chunk) => chunks.push(chunk.slice());
  stream.onend = () => {
    stream.respond([[":status", "200"], ["x-path", stream.header(":path")!]]);
    stream.write(Buffer.from(Buffer.concat(chunks).toString().toUpperCase()));
    stream.end([["x-status", "done"]]);
  };
}

Deno.test("a request and its answer: headers, body and trailers", async () => {
  await using server = await serve(echo);
  const session = await connect(server.path);
  try {
    for (let i = 0; i < 3; i++) {
      const stream = session.request(post(`/call/${i}`));
      const answer = response(stream);
      stream.end("hello");
      const { headers, body, trailers } = await answer;
      assert.equal(headers[":status"], 200);
      assert.equal(headers["x-path"], `/call/${i}`);
      assert.equal(Buffer.from(body).toString(), "HELLO");
      assert.equal(trailers["x-status"], "done");
    }
  } finally {
    session.destroy();
  }
});

Deno.test("a unary answer leaves in one socket write", async () => {
  await using server = await serve(echo);
  const peer = await RawPeer.connect(server.path);
  try {
    await peer.next((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK);
    const writes: number[] = [];
    peer.socket.on("data", (chunk: Uint8Array) => writes.push(chunk.length));
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      1,
      new HpackEncoder().encode(request("/one")),
    );
    const trailers = await peer.next((f) =>
      f.type === FrameType.HEADERS && f.streamId === 1 &&
      (f.flags & Flag.END_STREAM) !== 0
    );
    assert.ok(trailers);
    assert.equal(writes.length, 1, `writes of ${writes.join(", ")} bytes`);
  } finally {
    peer.close();
  }
});

/** A request's header list as a client encodes it. */
function request(path: string): HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
  ];
}
