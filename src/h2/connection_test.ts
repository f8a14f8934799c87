import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
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
import { HpackDecoder, HpackEncoder } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";
import {
  codeName,
  connect,
  post,
  RawPeer,
  request,
  response,
  roundTrip,
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
    await peer.next((f) =>
      f.type === FrameType.SETTINGS && f.flags === Flag.ACK
    );
    const before = server.writes.length;
    peer.send(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        1,
        new HpackEncoder().encode(request("/one")),
      ),
      encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("hi")),
    );
    const trailers = await peer.next((f) =>
      f.type === FrameType.HEADERS && f.streamId === 1 &&
      (f.flags & Flag.END_STREAM) !== 0
    );
    assert.ok(trailers);
    assert.deepEqual(
      peer.frames.filter((f) => f.streamId === 1).map((f) => f.type),
      [FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS],
    );
    assert.equal(server.writes.length - before, 1, `${server.writes}`);
  } finally {
    peer.close();
  }
});

/** Resolves on the next turn of the event loop. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

Deno.test("200 MB answered to a slow reader: the server runs no further ahead than the windows", async () => {
  const total = 200 << 20;
  const message = new Uint8Array(256 << 10).map((_, i) => i & 0xff);
  let written = 0;
  let received = 0;
  let maxAhead = 0;
  let waiting = false;
  let blocked: (() => void) | undefined;
  /** Resolves once the server waits for the reader. */
  const heldBack = () =>
    waiting
      ? Promise.resolve()
      : new Promise<void>((resolve) => blocked = resolve);
  await using server = await serve((stream) => {
    stream.onend = async () => {
      stream.respond([[":status", "200"]]);
      while (written < total) {
        written += message.length;
        if (!stream.write(message)) {
          waiting = true;
          blocked?.();
          await stream.drained();
          waiting = false;
        }
      }
      stream.end([["x-total", String(written)]]);
    };
  });
  const session = await connect(server.path);
  try {
    const stream = session.request(post("/read"));
    stream.end();
    const done = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.on("trailers", resolve);
      stream.on("error", reject);
    });
    stream.on("data", (chunk: Uint8Array) => {
      received += chunk.length;
      // Reads its bytes a megabyte at a time, then waits until the
      // server is held back again before reading on.
      if (received % (1 << 20) < chunk.length) {
        stream.pause();
        heldBack().then(async () => {
          await turn();
          maxAhead = Math.max(maxAhead, written - received);
          stream.resume();
        });
      }
    });
    const trailers = await done;
    assert.equal(trailers["x-total"], String(total));
    assert.equal(received, total);
    // node's client windows: 64 KiB a stream; the server holds a message
    // and what it wrote before it was told to wait.
    assert.ok(maxAhead < 1 << 20, `the server ran ${maxAhead} bytes ahead`);
  } finally {
    session.destroy();
  }
});

Deno.test("a 50 MB request read slowly: the server keeps no more than the stream window unread", async () => {
  const total = 50 << 20;
  let maxBuffered = 0;
  let received = 0;
  const hash = createHash("sha256");
  await using server = await serve((stream) => {
    stream.ondata = (chunk) => {
      hash.update(chunk);
      received += chunk.length;
      maxBuffered = Math.max(maxBuffered, stream.buffered);
      // A slow consumer: a pause of one turn after every chunk.
      stream.pause();
      turn().then(() => stream.resume());
    };
    stream.onend = () => {
      stream.respond([[":status", "200"]], true);
    };
  });
  const session = await connect(server.path);
  try {
    const stream = session.request(post("/write"));
    const answer = response(stream);
    const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const expected = createHash("sha256");
    for (let sent = 0; sent < total; sent += chunk.length) {
      expected.update(chunk);
      if (!stream.write(chunk)) {
        await new Promise((resolve) => stream.once("drain", resolve));
      }
    }
    stream.end();
    const { headers } = await answer;
    assert.equal(headers[":status"], 200);
    assert.equal(received, total);
    assert.equal(hash.digest("hex"), expected.digest("hex"));
    assert.ok(maxBuffered <= 1 << 20, `${maxBuffered} bytes kept unread`);
    assert.ok(maxBuffered > 0, "the consumer was never behind");
  } finally {
    session.destroy();
  }
});

Deno.test("1000 streams open at once are all served; one more is refused", async () => {
  const open: H2Stream[] = [];
  let release: () => void;
  const allOpen = new Promise<void>((resolve) => release = resolve);
  let holdAll = false;
  await using server = await serve((stream) => {
    open.push(stream);
    if (holdAll) return;
    if (open.length === 1000) release();
    allOpen.then(() => {
      stream.respond([[":status", "200"]]);
      stream.write(Buffer.from(String(stream.id)));
      stream.end();
    });
  });
  const session = await connect(server.path);
  try {
    const answers = Array.from({ length: 1000 }, (_, i) => {
      const stream = session.request(post(`/s/${i}`));
      stream.end();
      return response(stream);
    });
    await allOpen;
    assert.equal(open.length, 1000);
    for (const answer of await Promise.all(answers)) {
      assert.equal(answer.headers[":status"], 200);
    }
  } finally {
    session.destroy();
  }

  // A raw peer that ignores MAX_CONCURRENT_STREAMS.
  open.length = 0;
  holdAll = true;
  const peer = await RawPeer.connect(server.path);
  try {
    const encoder = new HpackEncoder();
    for (let id = 1; id <= 2001; id += 2) {
      peer.frame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        id,
        encoder.encode(request("/held")),
      );
    }
    const reset = await peer.next((f) => f.type === FrameType.RST_STREAM);
    assert.equal(reset?.streamId, 2001);
    assert.equal(decodeUint32(reset!), ErrorCode.REFUSED_STREAM);
    assert.equal(open.length, 1000);
  } finally {
    peer.close();
  }
});

Deno.test("a client's RST_STREAM mid-answer aborts the handler, and the connection serves on", async () => {
  let aborted: (code: number) => void;
  const abort = new Promise<number>((resolve) => aborted = resolve);
  await using server = await serve((stream) => {
    if (stream.header(":path") !== "/endless") return echo(stream);
    stream.onabort = aborted;
    stream.onend = async () => {
      stream.respond([[":status", "200"]]);
      while (!stream.closed) {
        if (!stream.write(new Uint8Array(16384))) await stream.drained();
      }
    };
  });
  const session = await connect(server.path);
  try {
    const stream = session.request(post("/endless"));
    stream.on("error", () => {});
    stream.end();
    await new Promise((resolve) => stream.once("data", resolve));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal(await abort, ErrorCode.CANCEL);
    const again = session.request(post("/again"));
    const answer = response(again);
    again.end("x");
    assert.equal(Buffer.from((await answer).body).toString(), "X");
  } finally {
    session.destroy();
  }
});

Deno.test("a PING is answered with its payload at once", async () => {
  await using server = await serve(echo);
  const session = await connect(server.path);
  try {
    const payload = Buffer.from("8 bytes!");
    const echoed = await new Promise<Buffer>((resolve, reject) =>
      session.ping(payload, (err, _ms, ack) => err ? reject(err) : resolve(ack))
    );
    assert.deepEqual(echoed, payload);
  } finally {
    session.destroy();
  }
});

Deno.test("after a client's GOAWAY, open calls finish, then the server ends the connection", async () => {
  const held: H2Stream[] = [];
  let opened: () => void;
  let allOpened = new Promise<void>((resolve) => opened = resolve);
  let expected = 64;
  await using server = await serve((stream) => {
    held.push(stream);
    if (held.length === expected) opened();
  });
  const answerHeld = () => {
    for (const stream of held.splice(0)) {
      stream.respond([[":status", "200"]]);
      stream.end();
    }
  };
  // node's client: close() sends GOAWAY with 64 calls in flight.
  const session = await connect(server.path);
  const answers = Array.from({ length: 64 }, () => {
    const stream = session.request(post());
    stream.end();
    return response(stream);
  });
  await allOpened;
  const closed = new Promise<void>((resolve) => session.close(resolve));
  answerHeld();
  for (const answer of await Promise.all(answers)) {
    assert.equal(answer.headers[":status"], 200);
  }
  await closed;

  // A raw peer: GOAWAY with a stream open, which is still answered.
  expected = 1;
  allOpened = new Promise<void>((resolve) => opened = resolve);
  const peer = await RawPeer.connect(server.path);
  peer.frame(
    FrameType.HEADERS,
    Flag.END_HEADERS | Flag.END_STREAM,
    1,
    headersOf("/"),
  );
  await allOpened;
  peer.frame(FrameType.GOAWAY, 0, 0, new Uint8Array(8));
  await roundTrip(peer);
  answerHeld();
  assert.ok(await peer.next((f) => f.type === FrameType.HEADERS));
  await peer.closed();
  assert.equal(peer.frames.find((f) => f.type === FrameType.GOAWAY), undefined);
});

/** Sends `frames` after the preface; resolves with the server's GOAWAY. */
async function goawayAfter(
  path: string,
  send: (peer: RawPeer) => void,
  preface = true,
) {
  const peer = await RawPeer.connect(path, preface);
  try {
    send(peer);
    return await peer.goaway();
  } finally {
    peer.close();
  }
}

const headersOf = (path: string, encoder = new HpackEncoder()) =>
  encoder.encode(request(path));

const malformed: [string, number, (peer: RawPeer) => void, boolean?][] = [
  ["a bad preface", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.send(Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"));
  }, false],
  ["a first frame that is not SETTINGS", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.send(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    peer.frame(FrameType.PING, 0, 0, new Uint8Array(8));
  }, false],
  ["a frame larger than 16384 bytes", ErrorCode.FRAME_SIZE_ERROR, (peer) => {
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 1, headersOf("/"));
    peer.frame(FrameType.DATA, 0, 1, new Uint8Array(16385));
  }],
  ["DATA on stream 0", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.DATA, 0, 0, new Uint8Array(4));
  }],
  ["DATA on an idle stream", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.DATA, 0, 5, new Uint8Array(4));
  }],
  ["HEADERS on an even stream", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 2, headersOf("/"));
  }],
  ["a decreasing stream id", ErrorCode.PROTOCOL_ERROR, (peer) => {
    const encoder = new HpackEncoder();
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 5, headersOf("/", encoder));
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 3, headersOf("/", encoder));
  }],
  [
    "the connection window past 2^31-1",
    ErrorCode.FLOW_CONTROL_ERROR,
    (peer) => {
      peer.frame(FrameType.WINDOW_UPDATE, 0, 0, encodeUint32(MAX_WINDOW));
    },
  ],
  [
    "a WINDOW_UPDATE of 0 on the connection",
    ErrorCode.PROTOCOL_ERROR,
    (peer) => {
      peer.frame(FrameType.WINDOW_UPDATE, 0, 0, encodeUint32(0));
    },
  ],
  [
    "an INITIAL_WINDOW_SIZE past 2^31-1",
    ErrorCode.FLOW_CONTROL_ERROR,
    (peer) => {
      peer.send(settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]]));
    },
  ],
  ["a MAX_FRAME_SIZE below 16384", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.send(settingsFrame([[Setting.MAX_FRAME_SIZE, 100]]));
  }],
  ["SETTINGS of 5 bytes", ErrorCode.FRAME_SIZE_ERROR, (peer) => {
    peer.frame(FrameType.SETTINGS, 0, 0, new Uint8Array(5));
  }],
  ["a PING of 4 bytes", ErrorCode.FRAME_SIZE_ERROR, (peer) => {
    peer.frame(FrameType.PING, 0, 0, new Uint8Array(4));
  }],
  ["a CONTINUATION without HEADERS", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, headersOf("/"));
  }],
  ["a frame inside a header block", ErrorCode.PROTOCOL_ERROR, (peer) => {
    const block = headersOf("/");
    peer.frame(FrameType.HEADERS, 0, 1, block.subarray(0, 2));
    peer.frame(FrameType.PING, 0, 0, new Uint8Array(8));
  }],
  ["a CONTINUATION on another stream", ErrorCode.PROTOCOL_ERROR, (peer) => {
    const block = headersOf("/");
    peer.frame(FrameType.HEADERS, 0, 1, block.subarray(0, 2));
    peer.frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, block.subarray(2));
  }],
  ["a header block that is not HPACK", ErrorCode.COMPRESSION_ERROR, (peer) => {
    // An indexed field far past the static and dynamic tables.
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS,
      1,
      new Uint8Array([0xff, 0xff, 0x7f]),
    );
  }],
  ["PUSH_PROMISE from a client", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, new Uint8Array(4));
  }],
  ["padding longer than its frame", ErrorCode.PROTOCOL_ERROR, (peer) => {
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 1, headersOf("/"));
    peer.frame(FrameType.DATA, Flag.PADDED, 1, new Uint8Array([9, 1, 2]));
  }],
];

for (const [what, code, send, preface] of malformed) {
  Deno.test(`${what} ends the connection with GOAWAY ${codeName(code)}`, async () => {
    await using server = await serve(() => {});
    const goaway = await goawayAfter(server.path, send, preface);
    assert.equal(codeName(goaway?.code), codeName(code), goaway?.debug);
  });
}

Deno.test("stream errors reset the stream only: DATA past its window, a zero WINDOW_UPDATE, trailers without END_STREAM", async () => {
  await using server = await serve((stream) => stream.pause());
  const peer = await RawPeer.connect(server.path);
  try {
    const encoder = new HpackEncoder();
    const open = (id: number) =>
      peer.frame(
        FrameType.HEADERS,
        Flag.END_HEADERS,
        id,
        headersOf("/", encoder),
      );
    open(1);
    for (let sent = 0; sent <= 1 << 20; sent += 16384) {
      peer.frame(FrameType.DATA, 0, 1, new Uint8Array(16384));
    }
    open(3);
    peer.frame(FrameType.WINDOW_UPDATE, 0, 3, encodeUint32(0));
    open(5);
    peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 5, headersOf("/", encoder));
    const codes = new Map<number, string>();
    for (const id of [1, 3, 5]) {
      const reset = await peer.next((f) =>
        f.type === FrameType.RST_STREAM && f.streamId === id
      );
      codes.set(id, codeName(reset && decodeUint32(reset)));
    }
    assert.deepEqual(Object.fromEntries(codes), {
      1: "FLOW_CONTROL_ERROR",
      3: "PROTOCOL_ERROR",
      5: "PROTOCOL_ERROR",
    });
    // Still serving.
    peer.frame(FrameType.PING, 0, 0, new Uint8Array(8));
    assert.ok(
      await peer.next((f) => f.type === FrameType.PING && f.flags === Flag.ACK),
    );
  } finally {
    peer.close();
  }
});

Deno.test("a header list over the limit refuses that request; the connection and its HPACK state live on", async () => {
  await using server = await serve(echo, { maxHeaderListSize: 8192 });
  const peer = await RawPeer.connect(server.path);
  try {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const big = encoder.encode([...request("/big"), [
      "x-big",
      "y".repeat(20000),
    ]]);
    peer.frame(FrameType.HEADERS, 0, 1, big.subarray(0, 16384));
    peer.frame(
      FrameType.CONTINUATION,
      Flag.END_HEADERS,
      1,
      big.subarray(16384),
    );
    peer.frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("a"));
    // Indexed by now on both sides, if the tables stayed in step.
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS,
      3,
      encoder.encode(request("/big")),
    );
    peer.frame(FrameType.DATA, Flag.END_STREAM, 3, Buffer.from("b"));
    const refused = await peer.next((f) =>
      f.type === FrameType.HEADERS && f.streamId === 1
    );
    assert.deepEqual(decoder.decode(refused!.payload), [[":status", "431"]]);
    const answer = await peer.next((f) =>
      f.type === FrameType.DATA && f.streamId === 3
    );
    assert.equal(Buffer.from(answer!.payload).toString(), "B");
    const goaway = peer.frames.find((f) => f.type === FrameType.GOAWAY);
    assert.equal(goaway, undefined);
  } finally {
    peer.close();
  }
});

Deno.test("close() ends the connections and aborts their open streams", async () => {
  let aborted: (code: number) => void;
  const abort = new Promise<number>((resolve) => aborted = resolve);
  await using server = await serve((stream) => stream.onabort = aborted);
  const peer = await RawPeer.connect(server.path);
  peer.frame(FrameType.HEADERS, Flag.END_HEADERS, 1, headersOf("/"));
  await roundTrip(peer);
  server.server.close();
  await peer.closed();
  assert.equal(await abort, ErrorCode.CANCEL);
  assert.equal(server.server.connectionCount, 0);
});

Deno.test("a client may reset thousands of open streams without losing its connection", async () => {
  let aborts = 0;
  await using server = await serve((stream) => {
    if (stream.header(":path") !== "/held") return echo(stream);
    stream.onabort = () => aborts++;
    stream.respond([[":status", "200"]]);
  });
  const session = await connect(server.path);
  let goaway: number | undefined;
  session.on("goaway", (code) => goaway = code);
  try {
    for (let i = 0; i < 3000; i++) {
      const stream = session.request(post("/held"));
      stream.on("error", () => {});
      await new Promise((resolve) => stream.once("response", resolve));
      const closed = new Promise((resolve) => stream.once("close", resolve));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await closed;
    }
    assert.equal(goaway, undefined, `GOAWAY ${goaway}`);
    const stream = session.request(post("/after"));
    const answer = response(stream);
    stream.end("ok");
    assert.equal(Buffer.from((await answer).body).toString(), "OK");
    assert.equal(aborts, 3000);
  } finally {
    session.destroy();
  }
});

Deno.test("the client's SETTINGS are honoured: a larger INITIAL_WINDOW_SIZE reopens waiting streams, MAX_FRAME_SIZE sizes DATA, HEADER_TABLE_SIZE the encoder", async () => {
  const size = 200_000;
  await using server = await serve((stream) => {
    stream.onend = () => {
      stream.respond([[":status", "200"], ["x-big", "z".repeat(100)]]);
      stream.write(new Uint8Array(size));
      stream.end([["x-done", "1"]]);
    };
  });
  const peer = await RawPeer.connect(server.path, false);
  try {
    peer.send(
      Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      settingsFrame([[Setting.HEADER_TABLE_SIZE, 0]]),
      encodeFrame(
        FrameType.WINDOW_UPDATE,
        0,
        0,
        encodeUint32(MAX_WINDOW - 65535),
      ),
    );
    const encoder = new HpackEncoder();
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      1,
      encoder.encode(request("/big")),
    );
    const dataBytes = () =>
      peer.frames.filter((f) => f.type === FrameType.DATA)
        .reduce((n, f) => n + f.payload.length, 0);
    // The default stream window: 65535 bytes, then the server waits.
    await peer.next(() => dataBytes() === 65535);
    await roundTrip(peer);
    assert.equal(dataBytes(), 65535);
    peer.send(settingsFrame([
      [Setting.INITIAL_WINDOW_SIZE, 1 << 20],
      [Setting.MAX_FRAME_SIZE, 65536],
    ]));
    const trailers = await peer.next((f) =>
      f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0
    );
    assert.equal(dataBytes(), size);
    const sizes = peer.frames.filter((f) => f.type === FrameType.DATA)
      .map((f) => f.payload.length);
    assert.ok(sizes.some((n) => n > 16384), `DATA frames of ${sizes}`);
    // A decoder whose table holds nothing reads both header blocks.
    const decoder = new HpackDecoder({ maxTableSize: 0 });
    const response = peer.frames.find((f) => f.type === FrameType.HEADERS)!;
    assert.deepEqual(decoder.decode(response.payload)[0], [":status", "200"]);
    assert.deepEqual(decoder.decode(trailers!.payload), [["x-done", "1"]]);
  } finally {
    peer.close();
  }
});
