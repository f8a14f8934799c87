/**
 * HPACK against another implementation: Deno's `node:http2` client sends
 * its requests to a server made of a raw socket, which decodes their header
 * blocks with HpackDecoder and answers with blocks from HpackEncoder.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import * as net from "node:net";
import { type HeaderField, HpackDecoder, HpackEncoder } from "./hpack.ts";

const PREFACE_LENGTH = 24;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const MAX_FRAME_SIZE = 16384;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array,
): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  out.set(payload, 9);
  return out;
}

/** A header block as HEADERS and CONTINUATION frames of at most 16 KiB. */
function headerFrames(
  stream: number,
  block: Uint8Array,
  endStream: boolean,
): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at === 0 || at < block.length; at += MAX_FRAME_SIZE) {
    const last = at + MAX_FRAME_SIZE >= block.length;
    const flags = (last ? END_HEADERS : 0) |
      (at === 0 && endStream ? END_STREAM : 0);
    frames.push(
      frame(
        at === 0 ? HEADERS : CONTINUATION,
        flags,
        stream,
        block.subarray(at, at + MAX_FRAME_SIZE),
      ),
    );
  }
  return frames;
}

/** The header block fragment of a HEADERS frame, without padding and priority. */
function headersFragment(flags: number, payload: Buffer): Buffer {
  let start = 0;
  let end = payload.length;
  if (flags & PADDED) {
    end -= payload[0];
    start = 1;
  }
  if (flags & PRIORITY) start += 5;
  return payload.subarray(start, end);
}

interface RequestSeen {
  stream: number;
  fields: HeaderField[];
}

interface RawServerOptions {
  /** The blocks (headers, trailers) that answer a request. */
  respond: (request: RequestSeen) => [Uint8Array, Uint8Array];
  /** The SETTINGS_HEADER_TABLE_SIZE the server announces and decodes with. */
  tableSize?: number;
  /** Told the client's SETTINGS_HEADER_TABLE_SIZE. */
  onClientTableSize?: (size: number) => void;
  /** The client's settings. */
  clientSettings?: http2.Settings;
}

/**
 * Serves one connection on a UNIX socket in a temp dir to a node:http2
 * client that `run` drives: each request's header block goes through an
 * HpackDecoder, and `respond` gives the blocks to answer with.
 */
async function withRawServer(
  options: RawServerOptions,
  run: (client: http2.ClientHttp2Session) => Promise<void>,
): Promise<RequestSeen[]> {
  const { respond, tableSize = 4096, onClientTableSize } = options;
  const dir = await Deno.makeTempDir({ prefix: "berth-hpack-" });
  const path = `${dir}/h2.sock`;
  const decoder = new HpackDecoder({ maxTableSize: tableSize });
  const seen: RequestSeen[] = [];
  const sockets: net.Socket[] = [];
  // What went wrong on the server's side ends the test at once: the
  // client may never see it.
  let failure: unknown;
  let fail = (_: unknown) => {};
  const failed = new Promise<never>((_, reject) => fail = reject);
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 0);
    settings.writeUInt32BE(tableSize, 2);
    socket.write(frame(SETTINGS, 0, 0, settings));
    let pending = Buffer.alloc(0);
    let prefaceSeen = false;
    let block: Buffer[] = [];
    let blockStream = 0;
    socket.on("data", (chunk: Buffer) => {
      try {
        onData(chunk);
      } catch (e) {
        failure ??= e;
        fail(e);
      }
    });
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaceSeen) {
        if (pending.length < PREFACE_LENGTH) return;
        assert.equal(
          pending.subarray(0, PREFACE_LENGTH).toString("latin1"),
          "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        );
        pending = pending.subarray(PREFACE_LENGTH);
        prefaceSeen = true;
      }
      while (
        pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)
      ) {
        const length = pending.readUIntBE(0, 3);
        const type = pending[3];
        const flags = pending[4];
        const stream = pending.readUInt32BE(5) & 0x7fffffff;
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === SETTINGS && !(flags & 0x1)) {
          for (let at = 0; at + 6 <= payload.length; at += 6) {
            if (payload.readUInt16BE(at) === SETTINGS_HEADER_TABLE_SIZE) {
              onClientTableSize?.(payload.readUInt32BE(at + 2));
            }
          }
          socket.write(frame(SETTINGS, 0x1, 0, new Uint8Array(0)));
        }
        if (type === GOAWAY) {
          // A client refusing our header blocks ends the connection with
          // COMPRESSION_ERROR (9), saying so here.
          throw new Error(
            `the client sent GOAWAY, error code ${payload.readUInt32BE(4)}`,
          );
        }
        if (type !== HEADERS && type !== CONTINUATION) continue;
        if (type === HEADERS) {
          blockStream = stream;
          block = [headersFragment(flags, payload)];
        } else {
          assert.equal(stream, blockStream);
          block.push(payload);
        }
        if (!(flags & END_HEADERS)) continue;
        const request = {
          stream,
          fields: decoder.decode(Buffer.concat(block)),
        };
        seen.push(request);
        const [headers, trailers] = respond(request);
        for (const f of headerFrames(stream, headers, false)) socket.write(f);
        for (const f of headerFrames(stream, trailers, true)) socket.write(f);
      }
    };
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = http2.connect("http://localhost", {
    createConnection: () => net.connect(path),
    settings: options.clientSettings,
  });
  client.on("error", fail);
  let done = false;
  try {
    await Promise.race([run(client), failed]);
    done = true;
  } catch (e) {
    throw failure ?? e;
  } finally {
    // A session that failed may never finish closing.
    if (done) {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    } else client.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Deno.remove(dir, { recursive: true });
  }
  return seen;
}

interface Response {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
}

function request(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const stream = client.request(headers, { endStream: true });
    const response: Response = { headers: {}, trailers: {} };
    stream.on("response", (h) => response.headers = h);
    stream.on("trailers", (t) => response.trailers = t);
    stream.on("error", reject);
    stream.on("close", () => resolve(response));
    stream.resume();
  });
}

const printable = Array.from(
  { length: 0x7f - 0x20 },
  (_, i) => String.fromCharCode(0x20 + i),
).join("");
const high = Array.from(
  { length: 0x80 },
  (_, i) => String.fromCharCode(0x80 + i),
).join("");

/**
 * Custom request fields for request `i`: some repeat, some are new, some
 * are long (x-long does not fit in the table). The first three requests
 * fill most of a 4096-byte table with the x-field ones, then each brings a
 * small x-round: the oldest entries, referenced at each request's start,
 * are evicted a few bytes at a time, so a decoder evicting too early meets
 * an index it no longer has.
 */
function customFields(i: number): HeaderField[] {
  return [
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["containerd-namespace", "default"],
    ["x-printable", printable.trim()],
    ["x-high", `a${high}z`],
    ["x-round", `round ${i}`],
    ["x-long", `${"long value ".repeat(500)}${i}`],
    ["x-repeated", "same every time"],
    ...Array.from(
      { length: 20 },
      (_, k): HeaderField => [`x-field-${k}`, `value ${k} of ${i % 3}`],
    ),
  ];
}

/**
 * Sends `count` requests one after the other; returns their custom fields
 * and the responses.
 */
async function sendRequests(
  client: http2.ClientHttp2Session,
  count: number,
): Promise<{ sent: HeaderField[][]; received: Response[] }> {
  const sent: HeaderField[][] = [];
  const received: Response[] = [];
  for (let i = 0; i < count; i++) {
    const fields = customFields(i);
    sent.push(fields);
    received.push(
      await request(client, {
        ":method": "POST",
        ":path": `/containerd.services.version.v1.Version/Version${i}`,
        ...Object.fromEntries(fields),
      }),
    );
  }
  return { sent, received };
}

function assertRequestsSeen(seen: RequestSeen[], sent: HeaderField[][]) {
  assert.equal(seen.length, sent.length);
  for (const [i, { fields }] of seen.entries()) {
    const pseudo = fields.filter(([name]) => name.startsWith(":"));
    assert.deepEqual(
      new Map(pseudo),
      new Map([
        [":method", "POST"],
        [":path", `/containerd.services.version.v1.Version/Version${i}`],
        [":scheme", "http"],
        [":authority", "localhost:80"],
      ]),
    );
    assert.deepEqual(fields.filter(([name]) => !name.startsWith(":")), sent[i]);
  }
}

/**
 * Answers requests with varied headers and trailers from `encoder`,
 * remembering them in `responses`.
 */
function responder(
  encoder: HpackEncoder,
  responses: [HeaderField[], HeaderField[]][],
): (request: RequestSeen) => [Uint8Array, Uint8Array] {
  return ({ stream }) => {
    const i = responses.length;
    const headers: HeaderField[] = [
      [":status", i % 5 === 4 ? "415" : "200"],
      ["content-type", "application/grpc"],
      ["x-printable", printable.trim()],
      ["x-high", high],
      ["x-stream", String(stream)],
      ["x-long", "L".repeat(200 + i)],
      ...Array.from(
        { length: 10 },
        (_, k): HeaderField => [`x-h${k}`, `value ${(i + k) % 7}`],
      ),
    ];
    const trailers: HeaderField[] = [
      ["grpc-status", String(i % 3)],
      ["grpc-message", i % 3 === 0 ? "" : `failure number ${i}`],
      ["x-trailer", `t${i % 2}`],
    ];
    responses.push([headers, trailers]);
    // Copied: encode reuses its buffer.
    return [encoder.encode(headers).slice(), encoder.encode(trailers)];
  };
}

function assertResponsesReceived(
  received: Response[],
  responses: [HeaderField[], HeaderField[]][],
) {
  assert.equal(received.length, responses.length);
  for (const [i, { headers, trailers }] of received.entries()) {
    const [sentHeaders, sentTrailers] = responses[i];
    const expected = Object.fromEntries(
      sentHeaders.map(([n, v]) => [n, n === ":status" ? Number(v) : v]),
    );
    assert.deepEqual(withoutSymbols(headers), expected);
    assert.deepEqual(
      withoutSymbols(trailers),
      Object.fromEntries(sentTrailers),
    );
  }
}

function withoutSymbols(
  headers: http2.IncomingHttpHeaders,
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers));
}

Deno.test("nghttp2's request header blocks decode to exactly the headers sent, over many requests", async () => {
  const encoder = new HpackEncoder();
  let sent: HeaderField[][] = [];
  const seen = await withRawServer(
    {
      respond: () => [
        encoder.encode([[":status", "200"]]).slice(),
        encoder.encode([["grpc-status", "0"]]),
      ],
    },
    async (client) => {
      ({ sent } = await sendRequests(client, 30));
    },
  );
  assertRequestsSeen(seen, sent);
});

Deno.test("HpackEncoder's response blocks decode in nghttp2, response after response", async () => {
  const responses: [HeaderField[], HeaderField[]][] = [];
  const received: Response[] = [];
  await withRawServer(
    { respond: responder(new HpackEncoder(), responses) },
    async (client) => {
      for (let i = 0; i < 30; i++) {
        received.push(
          await request(client, { ":method": "POST", ":path": "/x" }),
        );
      }
    },
  );
  assertResponsesReceived(received, responses);
});

Deno.test("small header tables both ways: nghttp2 and HpackEncoder announce and keep to the sizes the other side set", async () => {
  const encoder = new HpackEncoder();
  const responses: [HeaderField[], HeaderField[]][] = [];
  let sent: HeaderField[][] = [];
  let received: Response[] = [];
  let clientTableSize = -1;
  const seen = await withRawServer(
    {
      respond: responder(encoder, responses),
      // Our decoder keeps to 256 bytes: a client still using 4096 would
      // soon name entries it no longer has.
      tableSize: 256,
      clientSettings: { headerTableSize: 100 },
      onClientTableSize: (size) => {
        clientTableSize = size;
        encoder.setMaxTableSize(size);
      },
    },
    async (client) => {
      // Requests wait for our settings, so the client's first block
      // already starts with its size update.
      await new Promise((resolve) => client.once("remoteSettings", resolve));
      ({ sent, received } = await sendRequests(client, 30));
    },
  );
  assert.equal(clientTableSize, 100);
  assertRequestsSeen(seen, sent);
  assertResponsesReceived(received, responses);
});
