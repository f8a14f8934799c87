import assert from "node:assert/strict";
import { BerthError, Code, OCI } from "../types/mod.ts";
import { FakeRegistry } from "./_testing.ts";
import { RegistryClient } from "./client.ts";

const LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("fetch streams a blob and a manifest", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(300_000);
    const blob = registry.addBlob("a/b", bytes, LAYER);
    const ref = `${registry.host}/a/b:latest`;
    assert.deepEqual(await readAll(await c.fetch(ref, blob)), bytes);
    const get = registry.requests.at(-1)!;
    assert.equal(get.path, `/v2/a/b/blobs/${blob.digest}`);
    assert.equal(get.headers.get("accept"), `${LAYER}, */*`);

    const manifest = registry.addManifest(
      "a/b",
      OCI.MANIFEST,
      new TextEncoder().encode('{"schemaVersion":2}'),
    );
    const text = await new Response(await c.fetch(ref, manifest)).text();
    assert.equal(text, '{"schemaVersion":2}');
    assert.equal(
      registry.requests.at(-1)!.path,
      `/v2/a/b/manifests/${manifest.digest}`,
    );

    // From an offset, as a resumed ingest asks.
    const tail = await readAll(await c.fetch(ref, blob, { offset: 299_000 }));
    assert.deepEqual(tail, bytes.subarray(299_000));
    assert.equal(
      registry.requests.at(-1)!.headers.get("range"),
      "bytes=299000-",
    );
  } finally {
    await registry.close();
  }
});

Deno.test("fetch fails the stream when the bytes do not match the digest or size", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const ref = `${registry.host}/x:latest`;
    const blob = registry.addBlob("x", randomBytes(10_000), LAYER);
    registry.corrupt.set(blob.digest, randomBytes(10_000));
    await assert.rejects(readAll(await c.fetch(ref, blob)), (err: unknown) => {
      assert.ok(BerthError.is(err, Code.FailedPrecondition), String(err));
      assert.match(
        err.message,
        new RegExp(
          `blob ${blob.digest} of ${registry.host}/x:latest: digest mismatch`,
        ),
      );
      return true;
    });
    registry.corrupt.set(blob.digest, randomBytes(20_000));
    await assert.rejects(
      readAll(await c.fetch(ref, blob)),
      /size mismatch: got more than the expected 10000 bytes/,
    );
  } finally {
    await registry.close();
  }
});

Deno.test("fetch of missing content is NotFound before any byte", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const digest = "sha256:" + "1".repeat(64);
    await assert.rejects(
      c.fetch(`${registry.host}/x:latest`, {
        mediaType: LAYER,
        digest,
        size: 5,
      }),
      (err: unknown) => {
        assert.ok(BerthError.is(err, Code.NotFound));
        assert.match(err.message, new RegExp(`blob ${digest}.*404`));
        assert.match(err.message, /BLOB_UNKNOWN: blob unknown/);
        return true;
      },
    );
    await assert.rejects(
      c.fetch(`${registry.host}/x:latest`, {
        mediaType: LAYER,
        digest: "sha256:zz",
        size: 5,
      }),
      (err: unknown) => BerthError.is(err, Code.InvalidArgument),
    );
  } finally {
    await registry.close();
  }
});

Deno.test("fetch refuses a manifest over the size limit without asking", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient({ maxManifestSize: 1024 });
    const digest = "sha256:" + "2".repeat(64);
    await assert.rejects(
      c.fetch(`${registry.host}/x:latest`, {
        mediaType: OCI.MANIFEST,
        digest,
        size: 4096,
      }),
      /rejecting 4096 byte manifest over the 1024 byte limit/,
    );
    assert.equal(registry.requests.length, 0);
  } finally {
    await registry.close();
  }
});

Deno.test("fetch follows redirects; credentials stay on the registry host", async () => {
  const storage = FakeRegistry.start();
  const registry = FakeRegistry.start({
    auth: { kind: "bearer" },
    redirectBlobs: true,
  });
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(5000);
    const blob = registry.addBlob("x", bytes, LAYER);
    // Same host redirect (/storage/…).
    assert.deepEqual(
      await readAll(await c.fetch(`${registry.host}/x:latest`, blob)),
      bytes,
    );
    const last = registry.requests.at(-1)!;
    assert.equal(last.path, `/storage/${blob.digest}`);
    assert.match(last.headers.get("authorization") ?? "", /^Bearer /);

    // Another host: no Authorization there.
    storage.addBlob("elsewhere", bytes, LAYER);
    registry.intercept = (req, url) => {
      if (
        !url.pathname.includes("/blobs/") || !req.headers.get("authorization")
      ) return undefined;
      return new Response(null, {
        status: 302,
        headers: {
          location: `http://${storage.host}/storage/${blob.digest}?sig=1`,
        },
      });
    };
    assert.deepEqual(
      await readAll(await c.fetch(`${registry.host}/x:latest`, blob)),
      bytes,
    );
    const remote = storage.requests.at(-1)!;
    assert.equal(remote.path, `/storage/${blob.digest}?sig=1`);
    assert.equal(remote.headers.get("authorization"), null);
  } finally {
    await registry.close();
    await storage.close();
  }
});

Deno.test("fetch resumes a dropped blob with Range from the byte reached", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(1_000_000);
    const blob = registry.addBlob("x", bytes, LAYER);
    registry.drops.set(blob.digest, [100_000, 200_000]);
    const got = await readAll(
      await c.fetch(`${registry.host}/x:latest`, blob, { resumeDelay: 1 }),
    );
    assert.deepEqual(got, bytes);
    const gets = registry.requests.filter((r) => r.method === "GET");
    assert.deepEqual(gets.map((r) => r.headers.get("range")), [
      null,
      "bytes=100000-",
      "bytes=300000-",
    ]);
  } finally {
    await registry.close();
  }
});

Deno.test("fetch restarts and skips when the server ignores Range", async () => {
  const registry = FakeRegistry.start({ ranges: false });
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(500_000);
    const blob = registry.addBlob("x", bytes, LAYER);
    registry.drops.set(blob.digest, [123_457]);
    const got = await readAll(
      await c.fetch(`${registry.host}/x:latest`, blob, { resumeDelay: 1 }),
    );
    assert.deepEqual(got, bytes);
    assert.equal(registry.requests.length, 2);
  } finally {
    await registry.close();
  }
});

Deno.test("fetch gives up after repeated drops without progress", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const blob = registry.addBlob("x", randomBytes(10_000), LAYER);
    registry.drops.set(blob.digest, [10, 0, 0, 0]);
    const stream = await c.fetch(`${registry.host}/x:latest`, blob, {
      resumes: 2,
      resumeDelay: 1,
    });
    await assert.rejects(readAll(stream), (err: unknown) => {
      assert.ok(BerthError.is(err, Code.Unavailable), String(err));
      assert.match(err.message, /at byte 10 of 10000, after 2 resumes/);
      return true;
    });
  } finally {
    await registry.close();
  }
});

Deno.test("fetch holds a concurrency slot until the stream is done", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient({ concurrency: 1 });
    const one = registry.addBlob("x", randomBytes(1000), LAYER);
    const two = registry.addBlob("x", randomBytes(1000), LAYER);
    const first = await c.fetch(`${registry.host}/x:latest`, one);
    let secondOpened = false;
    const second = c.fetch(`${registry.host}/x:latest`, two).then((s) => {
      secondOpened = true;
      return s;
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(secondOpened, false);
    await readAll(first);
    await readAll(await second);
    assert.equal(secondOpened, true);
    // A cancelled stream frees its slot too.
    const third = await c.fetch(`${registry.host}/x:latest`, one);
    await third.cancel();
    await readAll(await c.fetch(`${registry.host}/x:latest`, two));
  } finally {
    await registry.close();
  }
});
