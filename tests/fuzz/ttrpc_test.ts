/** Fuzzing the ttrpc frame reader and message decoders (src/ttrpc). */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type ByteStream, Channel } from "../../src/ttrpc/channel.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from "../../src/ttrpc/wire.ts";
import { BerthError } from "../../src/types/mod.ts";
import { fuzzParameters, parsesOrFailsClearly } from "./_fuzz.ts";

/** A byte stream serving `bytes` in reads of the given sizes. */
function streamOf(bytes: Uint8Array, cuts: number[]): ByteStream {
  let offset = 0;
  let cut = 0;
  return {
    read(p) {
      if (offset >= bytes.length) return Promise.resolve(null);
      const want = Math.max(1, cuts[cut++ % Math.max(1, cuts.length)] ?? 1);
      const n = Math.min(p.length, want, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
    write: (p) => Promise.resolve(p.length),
    close() {},
  };
}

/** Frames: mostly well-formed headers around random payloads, some garbage. */
const frames = fc.array(
  fc.oneof(
    fc.tuple(
      fc.uint8Array({ maxLength: 64 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      ),
    ).map(([data, stream, type, flags, length]) => {
      const frame = new Uint8Array(10 + data.length);
      const view = new DataView(frame.buffer);
      view.setUint32(0, length ?? data.length);
      view.setUint32(4, stream);
      view.setUint8(8, type);
      view.setUint8(9, flags);
      frame.set(data, 10);
      return frame;
    }),
    fc.uint8Array({ maxLength: 32 }),
  ),
  { maxLength: 6 },
).map((parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
});

Deno.test("fuzz: the ttrpc frame reader reads frames or fails clearly, whatever the bytes", async () => {
  await fc.assert(
    fc.asyncProperty(
      frames,
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
      async (bytes, cuts) => {
        const channel = new Channel(streamOf(bytes, cuts));
        for (let i = 0; i < 16; i++) {
          let frame;
          try {
            frame = await channel.recv();
          } catch (err) {
            assert.ok(err instanceof BerthError, String(err));
            return;
          }
          if (frame === null) return;
          if (frame.error) continue;
          parsesOrFailsClearly(() => decodeRequest(frame.data));
          parsesOrFailsClearly(() => decodeResponse(frame.data));
        }
      },
    ),
    fuzzParameters(2000),
  );
});

Deno.test("fuzz: ttrpc requests and responses survive encode and decode", () => {
  const text = fc.string({ maxLength: 20 });
  fc.assert(
    fc.property(
      text,
      text,
      fc.uint8Array({ maxLength: 64 }),
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
      fc.dictionary(text, fc.array(text, { minLength: 1, maxLength: 3 }), {
        noNullPrototype: true,
      }),
      (service, method, payload, timeoutNano, metadata) => {
        const req = { service, method, payload, timeoutNano, metadata };
        assert.deepEqual(decodeRequest(encodeRequest(req)), req);
        const res = { payload, status: { code: 3, message: method } };
        assert.deepEqual(
          decodeResponse(encodeResponse(res)).payload,
          res.payload,
        );
      },
    ),
    fuzzParameters(1000),
  );
});
