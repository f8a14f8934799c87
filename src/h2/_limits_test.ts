import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import { ErrorCode } from "./errors.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeUint32,
  Flag,
  FrameType,
} from "./frames.ts";
import { HpackEncoder } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";
import { CALM_BURST, CALM_PER_SECOND } from "./_limits.ts";
import {
  codeName,
  ManualClock,
  RawPeer,
  request,
  roundTrip,
  serve,
} from "./_testing.ts";

/** Answers at once, with headers and an empty body. */
function answer(stream: H2Stream) {
  stream.onend = () => stream.respond([[":status", "200"]], true);
}

/**
 * The code of the first GOAWAY after `send`, which ends with a frame the
 * server refuses (DATA on stream 0, PROTOCOL_ERROR) so that a server
 * tolerating the flood answers too.
 */
async function firstGoaway(
  path: string,
  send: (peer: RawPeer) => void | Promise<void>,
): Promise<string> {
  const peer = await RawPeer.connect(path);
  try {
    peer.frame(FrameType.SETTINGS, Flag.ACK, 0);
    await send(peer);
    peer.frame(FrameType.DATA, 0, 0, new Uint8Array(1));
    const goaway = await peer.goaway();
    return `${codeName(goaway?.code)}${
      goaway?.code === ErrorCode.ENHANCE_YOUR_CALM ? "" : ` ${goaway?.debug}`
    }`;
  } finally {
    peer.close();
  }
}

/** `count` copies of one frame, sent in one write. */
function flood(
  peer: RawPeer,
  count: number,
  type: number,
  flags: number,
  streamId: number,
  payload?: Uint8Array,
) {
  const one = encodeFrame(type, flags, streamId, payload);
  const all = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) all.set(one, i * one.length);
  peer.send(all);
}

/** Opens stream `id` with a request that ends with its headers. */
function open(peer: RawPeer, encoder: HpackEncoder, id: number) {
  peer.frame(
    FrameType.HEADERS,
    Flag.END_HEADERS | Flag.END_STREAM,
    id,
    encoder.encode(request("/")),
  );
}

const floods: [string, (peer: RawPeer) => void][] = [
  ["PING", (peer) => {
    flood(peer, CALM_BURST + 1, FrameType.PING, 0, 0, new Uint8Array(8));
  }],
  ["PING acknowledgements nobody asked for", (peer) => {
    flood(peer, CALM_BURST + 1, FrameType.PING, Flag.ACK, 0, new Uint8Array(8));
  }],
  ["SETTINGS", (peer) => {
    flood(peer, CALM_BURST + 1, FrameType.SETTINGS, 0, 0);
  }],
  ["empty DATA", (peer) => {
    open(peer, new HpackEncoder(), 1);
    peer.frame(
      FrameType.HEADERS,
      Flag.END_HEADERS,
      3,
      new HpackEncoder().encode(request("/")),
    );
    flood(peer, CALM_BURST + 1, FrameType.DATA, 0, 3);
  }],
  ["WINDOW_UPDATE on a closed stream", (peer) => {
    open(peer, new HpackEncoder(), 1);
    flood(peer, CALM_BURST + 1, FrameType.WINDOW_UPDATE, 0, 1, encodeUint32(1));
  }],
  ["PRIORITY", (peer) => {
    flood(peer, CALM_BURST + 1, FrameType.PRIORITY, 0, 1, new Uint8Array(5));
  }],
  ["extension frames", (peer) => {
    flood(peer, CALM_BURST + 1, 0xfa, 0, 0, new Uint8Array(4));
  }],
];

for (const [what, send] of floods) {
  Deno.test(`a flood of ${what} ends the connection with GOAWAY ENHANCE_YOUR_CALM`, async () => {
    await using server = await serve(answer, { clock: new ManualClock() });
    assert.equal(await firstGoaway(server.path, send), "ENHANCE_YOUR_CALM");
  });
}

Deno.test("frames without progress are refilled by time: a burst, then the sustained rate", async () => {
  const clock = new ManualClock();
  await using server = await serve(answer, { clock });
  const code = await firstGoaway(server.path, async (peer) => {
    // The peer's SETTINGS, the flood and the round trip's PING: the burst.
    flood(peer, CALM_BURST - 2, FrameType.PING, 0, 0, new Uint8Array(8));
    await roundTrip(peer);
    clock.advance(1000);
    flood(peer, CALM_PER_SECOND, FrameType.PING, 0, 0, new Uint8Array(8));
  });
  assert.equal(code, "PROTOCOL_ERROR DATA on stream 0");
});

Deno.test("frames without progress are refilled by answers: a PING after each of 3000 calls is no flood", async () => {
  await using server = await serve(answer, { clock: new ManualClock() });
  const code = await firstGoaway(server.path, (peer) => {
    const encoder = new HpackEncoder();
    for (let id = 1; id < 6000; id += 2) {
      open(peer, encoder, id);
      peer.frame(FrameType.PING, 0, 0, new Uint8Array(8));
    }
  });
  assert.equal(code, "PROTOCOL_ERROR DATA on stream 0");
});

Deno.test("a header block that never ends (CONTINUATION flood, CVE-2024-27316) is bounded in bytes, empty frames included", async () => {
  await using server = await serve(answer, { clock: new ManualClock() });
  const peer = await RawPeer.connect(server.path);
  try {
    const block = new HpackEncoder().encode(request("/"));
    peer.frame(FrameType.HEADERS, 0, 1, block);
    flood(peer, 20_000, FrameType.CONTINUATION, 0, 1);
    // Inside a header block: PROTOCOL_ERROR, if the flood was let through.
    peer.frame(FrameType.PING, 0, 0, new Uint8Array(8));
    const goaway = await peer.goaway();
    assert.equal(codeName(goaway?.code), "ENHANCE_YOUR_CALM", goaway?.debug);
  } finally {
    peer.close();
  }
});

Deno.test("rapid reset (CVE-2023-44487): streams reset while their handlers still work hold back new ones, and resetting those is a flood", async () => {
  let started = 0;
  await using server = await serve((stream) => {
    started++;
    stream.working(new Promise(() => {}));
  }, { clock: new ManualClock(), maxConcurrentStreams: 10 });
  const code = await firstGoaway(server.path, (peer) => {
    const encoder = new HpackEncoder();
    for (let id = 1; id < 2 * (CALM_BURST + 20); id += 2) {
      open(peer, encoder, id);
      peer.frame(FrameType.RST_STREAM, 0, id, encodeUint32(ErrorCode.CANCEL));
    }
  });
  assert.equal(code, "ENHANCE_YOUR_CALM");
  assert.equal(started, 10);
});

Deno.test("a stream held back while handlers of reset streams work starts once one of them ends", async () => {
  const finish: (() => void)[] = [];
  const paths: string[] = [];
  await using server = await serve((stream) => {
    paths.push(stream.header(":path")!);
    if (stream.header(":path") === "/next") return answer(stream);
    stream.working(new Promise<void>((resolve) => finish.push(resolve)));
  }, { maxConcurrentStreams: 2 });
  const peer = await RawPeer.connect(server.path);
  try {
    const encoder = new HpackEncoder();
    const send = (id: number, path: string) =>
      peer.frame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        id,
        encoder.encode(request(path)),
      );
    for (const id of [1, 3]) {
      send(id, "/slow");
      peer.frame(FrameType.RST_STREAM, 0, id, encodeUint32(ErrorCode.CANCEL));
    }
    send(5, "/next");
    await roundTrip(peer);
    assert.deepEqual(paths, ["/slow", "/slow"]);
    finish[0]();
    const answered = await peer.next((f) =>
      f.type === FrameType.HEADERS && f.streamId === 5
    );
    assert.ok(answered);
    assert.deepEqual(paths, ["/slow", "/slow", "/next"]);
  } finally {
    peer.close();
  }
});

Deno.test("SETTINGS not acknowledged in time end the connection with GOAWAY SETTINGS_TIMEOUT", async () => {
  const clock = new ManualClock();
  await using server = await serve(answer, { clock, settingsTimeout: 10_000 });
  const peer = await RawPeer.connect(server.path);
  try {
    await peer.next((f) => f.type === FrameType.SETTINGS);
    clock.advance(9_999);
    await roundTrip(peer);
    clock.advance(1);
    // Refused with PROTOCOL_ERROR if the connection still served.
    peer.frame(FrameType.DATA, 0, 0, new Uint8Array(1));
    const goaway = await peer.goaway();
    assert.equal(codeName(goaway?.code), "SETTINGS_TIMEOUT", goaway?.debug);
  } finally {
    peer.close();
  }
});

Deno.test("acknowledged SETTINGS stop the timer: the connection serves on, its timers all cleared", async () => {
  const clock = new ManualClock();
  await using server = await serve(answer, { clock });
  const peer = await RawPeer.connect(server.path);
  try {
    peer.frame(FrameType.SETTINGS, Flag.ACK, 0);
    await roundTrip(peer);
    assert.equal(clock.timers, 0);
    clock.advance(60_000);
    await roundTrip(peer);
    assert.equal(peer.frames.some((f) => f.type === FrameType.GOAWAY), false);
  } finally {
    peer.close();
  }
});

Deno.test("a client that never reads: the server stops reading it once its answers pile up, so they stay bounded", async () => {
  const pad = "x".repeat(5000);
  await using server = await serve((stream) => {
    stream.respond([[":status", "200"], ["x-pad", pad]], true);
  });
  const socket = net.connect(server.path);
  await new Promise((resolve) => socket.once("connect", resolve));
  try {
    // No 'data' listener: the client reads nothing past its small buffer.
    const encoder = new HpackEncoder();
    const requests: Uint8Array[] = [
      CLIENT_PREFACE,
      encodeFrame(FrameType.SETTINGS, 0, 0),
    ];
    // 20 000 answers of 5 KB: 100 MB, were they all written.
    for (let id = 1; id < 40_000; id += 2) {
      requests.push(encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        id,
        encoder.encode(request("/")),
      ));
    }
    socket.write(Buffer.concat(requests));
    while (server.connections.length === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [served] = server.connections;
    while (!served.readingPaused) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    // 16 MiB waiting stops reading; the answers to one read (64 KiB of
    // ~15-byte requests) may come on top: at most ~40 MB. All of one
    // turn's reads were answered before (~85 MB measured).
    assert.ok(
      served.unsent < 40 << 20,
      `${served.unsent} bytes wait for the client`,
    );
  } finally {
    socket.destroy();
  }
});
