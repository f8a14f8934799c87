import assert from "node:assert/strict";
import * as http from "node:http";
import { ConnDuplex } from "./_conn_duplex.ts";

/** A `node:http` server on a Deno listener, each connection a ConnDuplex. */
async function withHttpServer(
  fn: (path: string, closed: Promise<void>[]) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "berth-duplex-" });
  const path = `${dir}/h1.sock`;
  const server = http.createServer((request, response) => {
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => {
      const body = new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      );
      response.end(`${request.method} ${request.url} ${body}`);
    });
  });
  const listener = Deno.listen({ transport: "unix", path });
  const closed: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      // The first bytes were read by the caller, as the listener does.
      const head = new Uint8Array(4);
      const n = await conn.read(head);
      const socket = new ConnDuplex(conn, head.subarray(0, n ?? 0));
      closed.push(new Promise((resolve) => socket.once("close", resolve)));
      server.emit("connection", socket);
    }
  })();
  try {
    await fn(path, closed);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends `request` on `conn` and reads one whole response. */
async function exchange(conn: Deno.Conn, request: string): Promise<string> {
  await conn.write(new TextEncoder().encode(request));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!/\r\n\r\n[\s\S]*$/.test(text) || !responseComplete(text)) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

function responseComplete(text: string): boolean {
  const length = /content-length: (\d+)/i.exec(text)?.[1];
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return length !== undefined && body.length >= Number(length);
}

Deno.test("ConnDuplex: node:http answers a request on a Deno.Conn, the bytes read before included, and closes it", async () => {
  await withHttpServer(async (path, closed) => {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      const answer = await exchange(
        conn,
        "POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      );
      assert.match(answer, /^HTTP\/1.1 200/);
      assert.match(answer, /POST \/one hello$/);
      // node:http ends connections of a server that does not listen itself
      // after each answer.
      await closed[0];
      assert.equal(await conn.read(new Uint8Array(16)), null);
    } finally {
      conn.close();
    }
  });
});

Deno.test("ConnDuplex: a client that hangs up mid-request closes the stream", async () => {
  await withHttpServer(async (path, closed) => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(
      new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\n"),
    );
    conn.close();
    await closed[0];
  });
});
