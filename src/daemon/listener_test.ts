import assert from "node:assert/strict";
import * as net from "node:net";
import { join } from "node:path";
import { Flag, FrameType } from "../h2/mod.ts";
import { RawPeer, roundTrip } from "../h2/_testing.ts";
import { listen, type Listener } from "./listener.ts";

/** A listener answering HTTP/1.1 with "ok" and leaving streams open. */
async function listenIn(dir: string): Promise<Listener> {
  return await listen({
    path: join(dir, "api.sock"),
    streams: () => {},
    requests: (_, response) => response.end("ok"),
    uid: Deno.uid()!,
    gid: Deno.gid()!,
    firstBytesTimeout: 50,
  });
}

Deno.test("a client that sends half a preface, or nothing, is disconnected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-listener-" });
  const listener = await listenIn(dir);
  try {
    for (const first of ["PRI * HTTP", ""]) {
      const socket = net.connect(listener.path);
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      if (first) socket.write(first);
      await new Promise((resolve) => socket.once("close", resolve));
    }
  } finally {
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connections that showed their protocol in time outlive that time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-listener-" });
  const listener = await listenIn(dir);
  const peer = await RawPeer.connect(listener.path);
  const h1 = await Deno.connect({ transport: "unix", path: listener.path });
  const encoder = new TextEncoder();
  try {
    peer.frame(FrameType.SETTINGS, Flag.ACK, 0);
    await roundTrip(peer);
    await h1.write(encoder.encode("GET / HTTP/1.1\r\n"));
    // The time itself is what is tested: past it, both are served.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await roundTrip(peer);
    assert.equal(peer.socket.destroyed, false, "the HTTP/2 client was cut");
    await h1.write(encoder.encode("Host: x\r\n\r\n"));
    const answer = new Uint8Array(1024);
    const n = await h1.read(answer);
    assert.match(
      new TextDecoder().decode(answer.subarray(0, n!)),
      /^HTTP\/1.1 200/,
    );
  } finally {
    peer.close();
    h1.close();
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
