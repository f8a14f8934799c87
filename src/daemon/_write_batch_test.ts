import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type * as net from "node:net";
import { WriteBatch } from "./_write_batch.ts";

/** A socket that records what reaches it. */
function fakeSocket() {
  const events: string[] = [];
  const socket = {
    destroyed: false,
    write(chunk: Uint8Array | string, ..._rest: unknown[]) {
      events.push(`write ${Buffer.from(chunk).toString()}`);
      return true;
    },
    end() {
      events.push("end");
      return socket;
    },
  };
  return { socket: socket as unknown as net.Socket, events };
}

/** Resolves after `n` turns of the event loop's immediates. */
async function turns(n: number) {
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

Deno.test("chunks written in one turn leave as one write", async () => {
  const { socket, events } = fakeSocket();
  new WriteBatch(socket);
  socket.write(Buffer.from("a"));
  socket.write(Buffer.from("b"));
  await Promise.resolve();
  socket.write(Buffer.from("c"));
  assert.deepEqual(events, []);
  await turns(1);
  assert.deepEqual(events, ["write abc"]);
  socket.write(Buffer.from("d"));
  await turns(1);
  assert.deepEqual(events, ["write abc", "write d"]);
});

Deno.test("a hold keeps the message for the trailers queued before its release", async () => {
  const { socket, events } = fakeSocket();
  const batch = new WriteBatch(socket);
  socket.write(Buffer.from("message"));
  const release = batch.hold();
  // As the session does: the trailers come from an immediate queued when
  // they are handed over, just before the call releases its hold.
  setImmediate(() => {
    setImmediate(() => socket.write(Buffer.from("+trailers")));
    release();
  });
  await turns(3);
  assert.deepEqual(events, ["write message+trailers"]);
  release();
  socket.write(Buffer.from("next"));
  await turns(1);
  assert.deepEqual(events, ["write message+trailers", "write next"]);
});

Deno.test("a hold never released delays a write only a few turns", async () => {
  const { socket, events } = fakeSocket();
  const batch = new WriteBatch(socket);
  batch.hold();
  socket.write(Buffer.from("x"));
  await turns(4);
  assert.deepEqual(events, ["write x"]);
});

Deno.test("end and writes with a callback go after what is pending", () => {
  const { socket, events } = fakeSocket();
  new WriteBatch(socket);
  socket.write(Buffer.from("a"));
  socket.write("text", "utf8");
  socket.write(Buffer.from("b"));
  socket.end();
  assert.deepEqual(events, ["write a", "write text", "write b", "end"]);
});

Deno.test("nothing is written to a destroyed socket", async () => {
  const { socket, events } = fakeSocket();
  new WriteBatch(socket);
  socket.write(Buffer.from("a"));
  (socket as { destroyed: boolean }).destroyed = true;
  await turns(1);
  assert.deepEqual(events, []);
});
