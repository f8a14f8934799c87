import assert from "node:assert/strict";
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

/** The server's side of a connection, and when it closed. */
interface Served {
  conn: Deno.Conn;
  closed: Promise<void>;
}

/**
 * Runs `fn` with a client of an HTTP/2 server on a UNIX socket whose
 * streams go to `onStream`, and the server's connections in accept order.
 */
async function withServer(
  onStream: (stream: H2Stream) => void,
  fn: (
    client: ReturnType<typeof createClient<typeof Version>>,
    served: Served[],
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-transport-" });
  const path = join(dir, "grpc.sock");
  const h2 = new H2Server({ onStream });
  const served: Served[] = [];
  const listener = Deno.listen({ transport: "unix", path });
  const accepting = (async () => {
    for await (const conn of listener) {
      const closed = Promise.withResolvers<void>();
      served.push({ conn, closed: closed.promise });
      h2.serve({
        read: (buffer) =>
          conn.read(buffer).then((n) => {
            if (n === null) closed.resolve();
            return n;
          }, (err) => {
            closed.resolve();
            throw err;
          }),
        write: (bytes) => conn.write(bytes),
        close: () => {
          closed.resolve();
          conn.close();
        },
      });
    }
  })();
  try {
    await fn(createClient(Version, unixTransport(path)), served);
  } finally {
    h2.close();
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends a GOAWAY (NO_ERROR, every stream processed) on `conn`. */
async function goaway(conn: Deno.Conn): Promise<void> {
  await conn.write(encodeFrame(
    FrameType.GOAWAY,
    0,
    0,
    encodeGoaway(2 ** 31 - 1, ErrorCode.NO_ERROR, "going"),
  ));
}

Deno.test("a GOAWAY (NO_ERROR) to an idle connection leaves the process alive; the next call dials again", async () => {
  await withServer(answerEmpty, async (client, served) => {
    // nghttp2 aborted the process on about 2 of 3 such GOAWAYs.
    for (let round = 1; round <= 12; round++) {
      await client.version({});
      assert.equal(served.length, round);
      const { conn, closed } = served[round - 1];
      await goaway(conn);
      await closed;
    }
  });
});

Deno.test("a GOAWAY (NO_ERROR) with a call in flight ends that call with a ConnectError at worst, never the process; the next call dials again", async () => {
  let arrived!: (stream: H2Stream) => void;
  await withServer((stream) => arrived(stream), async (client, served) => {
    for (let round = 1; round <= 6; round++) {
      const inFlight = new Promise<H2Stream>((resolve) => arrived = resolve);
      const call = client.version({});
      const stream = await inFlight;
      assert.equal(served.length, round);
      await goaway(served[round - 1].conn);
      answerEmpty(stream);
      // Deno 2.9's node:http2 under connect-node fails the call (measured:
      // 'Premature close'), though the server answers it.
      const ended = await call.then(() => "answered", (err) => err);
      if (ended !== "answered") {
        assert.ok(ended instanceof ConnectError, String(ended));
      }
    }
  });
});
