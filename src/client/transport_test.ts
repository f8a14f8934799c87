import assert from "node:assert/strict";
import * as net from "node:net";
import { join } from "node:path";
import { ConnectError, createClient } from "@connectrpc/connect";
import { Version } from "../gen/containerd/services/version/v1/version_pb.ts";
import {
  encodeFrame,
  encodeGoaway,
  ErrorCode,
  FrameType,
  H2Server,
  type H2Stream,
} from "../h2/mod.ts";
import { unixTransport } from "./transport.ts";

/** Answers any call with one empty message and status OK. */
function answerEmpty(stream: H2Stream) {
  stream.ondata = () => {};
  stream.onend = () => {
    stream.respond([[":status", "200"], ["content-type", "application/grpc"]]);
    stream.write(new Uint8Array(5));
    stream.end([["grpc-status", "0"]]);
  };
  // Delivers what came before the handlers were set.
  stream.resume();
}

Deno.test("a GOAWAY (NO_ERROR) to an idle connection leaves the process alive; the next call dials again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-transport-" });
  const path = join(dir, "grpc.sock");
  const h2 = new H2Server({ onStream: answerEmpty });
  const sockets: net.Socket[] = [];
  const listener = net.createServer((socket) => {
    sockets.push(socket);
    h2.serve(socket);
  });
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  try {
    const client = createClient(Version, unixTransport(path));
    // nghttp2 aborted the process on about 2 of 3 such GOAWAYs.
    for (let round = 1; round <= 12; round++) {
      await client.version({});
      assert.equal(sockets.length, round);
      const socket = sockets[round - 1];
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.write(encodeFrame(
        FrameType.GOAWAY,
        0,
        0,
        encodeGoaway(2 ** 31 - 1, ErrorCode.NO_ERROR, "going"),
      ));
      await closed;
    }
  } finally {
    h2.close();
    await new Promise((resolve) => listener.close(resolve));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a GOAWAY (NO_ERROR) with a call in flight ends that call with a ConnectError at worst, never the process; the next call dials again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-transport-" });
  const path = join(dir, "grpc.sock");
  let arrived!: (stream: H2Stream) => void;
  const h2 = new H2Server({ onStream: (stream) => arrived(stream) });
  const sockets: net.Socket[] = [];
  const listener = net.createServer((socket) => {
    sockets.push(socket);
    h2.serve(socket);
  });
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  try {
    const client = createClient(Version, unixTransport(path));
    for (let round = 1; round <= 6; round++) {
      const inFlight = new Promise<H2Stream>((resolve) => arrived = resolve);
      const call = client.version({});
      const stream = await inFlight;
      assert.equal(sockets.length, round);
      sockets[round - 1].write(encodeFrame(
        FrameType.GOAWAY,
        0,
        0,
        encodeGoaway(2 ** 31 - 1, ErrorCode.NO_ERROR, "going"),
      ));
      answerEmpty(stream);
      // Deno 2.9's node:http2 under connect-node fails the call (measured:
      // 'Premature close'), though the server answers it.
      const ended = await call.then(() => "answered", (err) => err);
      if (ended !== "answered") {
        assert.ok(ended instanceof ConnectError, String(ended));
      }
    }
  } finally {
    h2.close();
    await new Promise((resolve) => listener.close(resolve));
    await Deno.remove(dir, { recursive: true });
  }
});
