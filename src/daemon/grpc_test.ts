import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  Content,
  ReadContentResponseSchema,
  WriteContentRequestSchema,
  WriteContentResponseSchema,
} from "../gen/containerd/services/content/v1/content_pb.ts";
import { Events } from "../gen/containerd/services/events/v1/events_pb.ts";
import { Version } from "../gen/containerd/services/version/v1/version_pb.ts";
import { h2Transport, unixTransport } from "../client/mod.ts";
import { Exchange } from "../events/mod.ts";
import { eventsService } from "../services/events.ts";
import { versionService } from "../services/version.ts";
import {
  encodeUint32,
  ErrorCode,
  Flag,
  FrameType,
  HpackEncoder,
} from "../h2/mod.ts";
import { RawPeer } from "../h2/_testing.ts";
import { GrpcServer } from "./grpc.ts";
import { listen, type Listener } from "./listener.ts";
import {
  callResult,
  connectH2,
  grpcFrame,
  openCall,
  unaryCall,
} from "../../tests/_h2.ts";

const VERSION = "/containerd.services.version.v1.Version/Version";

/** `grpc` on a socket in `dir`; HTTP/1.1 gets an empty answer. */
function listenGrpc(dir: string, grpc: GrpcServer): Promise<Listener> {
  return listen({
    path: join(dir, "grpc.sock"),
    streams: (stream) => grpc.handle(stream),
    requests: (_, response) => response.end(),
    uid: Deno.uid()!,
    gid: Deno.gid()!,
  });
}

/** A server with no services yet, whose errors are connect-es's. */
function grpcServer(
  maxRecvMessageSize = 1 << 20,
  maxSendMessageSize = 1 << 20,
): GrpcServer {
  return new GrpcServer({
    maxRecvMessageSize,
    maxSendMessageSize,
    toError: (err) => ConnectError.from(err),
  });
}

/** A listener serving Version and Events (over `exchange`) in-process. */
async function serveGrpc(
  exchange: Exchange,
  maxRecvMessageSize = 1 << 20,
): Promise<Listener & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "berth-grpc-" });
  const grpc = grpcServer(maxRecvMessageSize, 16 << 20);
  grpc.register(Version, versionService({ version: "v9", revision: "r" }));
  grpc.register(Events, eventsService(exchange));
  const listener = await listenGrpc(dir, grpc);
  return {
    ...listener,
    async [Symbol.asyncDispose]() {
      await listener.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("unary calls through connect-node's gRPC client and berth's lean client", async () => {
  await using listener = await serveGrpc(new Exchange());
  for (const transport of [unixTransport, h2Transport]) {
    const client = createClient(Version, transport(listener.path));
    for (let i = 0; i < 3; i++) {
      const answer = await client.version({});
      assert.equal(answer.version, "v9");
    }
  }
  const concurrent = createClient(Version, h2Transport(listener.path));
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => concurrent.version({})),
  );
  assert.equal(answers.length, 200);
});

Deno.test("a subscription streams events and ends when the client cancels", async () => {
  const exchange = new Exchange();
  await using listener = await serveGrpc(exchange);
  const client = createClient(Events, h2Transport(listener.path));
  const controller = new AbortController();
  const received: string[] = [];
  const stream = client.subscribe({}, { signal: controller.signal });
  const payload = new Uint8Array(32 << 10);
  const reading = (async () => {
    try {
      for await (const envelope of stream) {
        received.push(envelope.topic);
        if (received.length === 500) controller.abort();
      }
    } catch (err) {
      assert.equal(ConnectError.from(err).code, Code.Canceled);
    }
  })();
  // Published until the subscription has taken 500: it may start late.
  for (let i = 0; received.length < 500; i++) {
    exchange.publish("default", `/test/${i}`, {
      typeUrl: "t",
      value: payload,
    });
    await new Promise((resolve) => setImmediate(resolve));
  }
  await reading;
  assert.equal(received.length, 500);
  assert.match(received[0], /^\/test\/\d+$/);
});

Deno.test("a request over the receive limit is refused with ResourceExhausted; the connection serves on", async () => {
  await using listener = await serveGrpc(new Exchange(), 4096);
  const session = await connectH2(listener.path);
  try {
    const big = await unaryCall(
      session,
      VERSION,
      grpcFrame(new Uint8Array(5000)),
    );
    assert.equal(big.status, Code.ResourceExhausted, big.message);
    assert.match(big.message, /larger than max \(5000 vs\. 4096\)/);
    // Announced, never sent: refused from the prefix alone.
    const announced = openCall(session, VERSION);
    const result = callResult(announced);
    const head = new Uint8Array(5);
    new DataView(head.buffer).setUint32(1, 512 << 20);
    announced.write(head);
    // As a Go client does once it has the status: it stops the stream.
    await new Promise((resolve) => announced.once("response", resolve));
    announced.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal((await result).status, Code.ResourceExhausted);
    const unknown = await unaryCall(
      session,
      "/containerd.services.version.v1.Version/Nope",
      grpcFrame(new Uint8Array()),
    );
    assert.equal(unknown.status, Code.Unimplemented);
    const ok = await unaryCall(session, VERSION, grpcFrame(new Uint8Array()));
    assert.equal(ok.status, 0, ok.message);
    const empty = toBinary(AnySchema, create(AnySchema, {}));
    const two = await unaryCall(
      session,
      VERSION,
      new Uint8Array([...grpcFrame(empty), ...grpcFrame(empty)]),
    );
    assert.equal(two.status, Code.Unimplemented, two.message);
  } finally {
    session.destroy();
  }
});

Deno.test("a lost client ends a handler waiting for its next request message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-grpc-" });
  const grpc = grpcServer();
  let ended: (how: string) => void;
  const handlerEnded = new Promise<string>((resolve) => ended = resolve);
  grpc.register(Content, {
    async *write(requests) {
      try {
        for await (const request of requests) {
          yield create(WriteContentResponseSchema, { offset: request.offset });
        }
        ended("the requests ended");
      } catch (err) {
        ended(
          ConnectError.from(err).code === Code.Canceled
            ? "cancelled"
            : String(err),
        );
      }
    },
  });
  const listener = await listenGrpc(dir, grpc);
  const session = await connectH2(listener.path);
  try {
    const write = openCall(
      session,
      "/containerd.services.content.v1.Content/Write",
    );
    const result = callResult(write);
    write.write(grpcFrame(toBinary(
      WriteContentRequestSchema,
      create(WriteContentRequestSchema, { offset: 7n }),
    )));
    await new Promise((resolve) => write.once("data", resolve));
    // The client goes away (a killed ctr) without ending its requests.
    session.destroy();
    await result;
    assert.equal(await handlerEnded, "cancelled");
  } finally {
    session.destroy();
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closing the listener: calls in flight through connect-node (berth ctr's) and the lean client are answered, idle connections end, the process lives", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-grpc-" });
  const grpc = grpcServer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let held = 0;
  let allHeld!: () => void;
  const inFlight = new Promise<void>((resolve) => allHeld = resolve);
  let holding = false;
  grpc.register(Version, {
    async version() {
      if (holding) {
        if (++held === 8) allHeld();
        await gate;
      }
      return { version: "v9", revision: "r" };
    },
  });
  const listener = await listenGrpc(dir, grpc);
  try {
    const clients = [unixTransport, h2Transport].flatMap((transport) => [
      createClient(Version, transport(listener.path)),
      createClient(Version, transport(listener.path)),
    ]);
    // Every client has a connection; the second of each kind stays idle.
    for (const client of clients) await client.version({});
    holding = true;
    const calls = [clients[0], clients[2]].flatMap((client) =>
      Array.from({ length: 4 }, () => client.version({}))
    );
    await inFlight;
    const closed = listener.close();
    release();
    for (const answer of await Promise.all(calls)) {
      assert.equal(answer.version, "v9");
    }
    await closed;
    for (const client of clients) {
      await assert.rejects(() => client.version({}), ConnectError);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("answers a slow reader holds back arrive intact, though later ones are framed meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-grpc-" });
  const grpc = grpcServer();
  const count = 100;
  const size = 40_000;
  grpc.register(Content, {
    async *read() {
      for (let i = 0; i < count; i++) {
        yield create(ReadContentResponseSchema, {
          offset: BigInt(i),
          data: new Uint8Array(size).fill(i),
        });
      }
    },
  });
  const listener = await listenGrpc(dir, grpc);
  try {
    const client = createClient(Content, h2Transport(listener.path));
    let i = 0;
    for await (const answer of client.read({ digest: "sha256:x" })) {
      assert.equal(answer.offset, BigInt(i));
      assert.equal(answer.data.length, size);
      assert.ok(
        answer.data.every((byte) => byte === i),
        `answer ${i} was overwritten`,
      );
      i++;
      // A slow reader: the server's windows close and it runs ahead.
      for (let turn = 0; turn < 3; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    assert.equal(i, count);
  } finally {
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rapid reset: calls reset while their handlers still work hold back the next ones; resetting those ends the connection with ENHANCE_YOUR_CALM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-grpc-" });
  const grpc = new GrpcServer({
    maxRecvMessageSize: 1 << 20,
    maxSendMessageSize: 1 << 20,
    toError: (err) => ConnectError.from(err),
  });
  let started = 0;
  grpc.register(Version, {
    version() {
      started++;
      return new Promise<never>(() => {});
    },
  });
  const listener = await listenGrpc(dir, grpc);
  const peer = await RawPeer.connect(listener.path);
  try {
    const encoder = new HpackEncoder();
    const empty = grpcFrame(new Uint8Array());
    for (let id = 1; id < 2 * 2500; id += 2) {
      peer.frame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        id,
        encoder.encode([
          [":method", "POST"],
          [":scheme", "http"],
          [":path", VERSION],
          [":authority", "localhost"],
          ["content-type", "application/grpc"],
        ]),
      );
      peer.frame(FrameType.DATA, Flag.END_STREAM, id, empty);
      peer.frame(FrameType.RST_STREAM, 0, id, encodeUint32(ErrorCode.CANCEL));
    }
    // PROTOCOL_ERROR, if the flood was let through.
    peer.frame(FrameType.DATA, 0, 0, new Uint8Array(1));
    const goaway = await peer.goaway();
    assert.equal(goaway?.code, ErrorCode.ENHANCE_YOUR_CALM, goaway?.debug);
    assert.equal(started, 1000);
  } finally {
    peer.close();
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
