import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BerthError,
  Code,
  type Descriptor,
  OCI,
  parseReference,
} from "../types/mod.ts";
import { FakeRegistry } from "./_testing.ts";
import { RegistryClient } from "./client.ts";
import { mountCandidate } from "./pusher.ts";

const LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

function blobOf(bytes: Uint8Array, mediaType = LAYER): Descriptor {
  return {
    mediaType,
    digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    size: bytes.byteLength,
  };
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

function streamOf(bytes: Uint8Array, piece = 777): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

function calls(registry: FakeRegistry): string[] {
  return registry.requests.map((r) =>
    `${r.method} ${
      r.path.replace(/sha256(:|%3A)[a-f0-9]{64}/g, "D").replace(/\?.*$/, (q) =>
        q.replace(/_state=[^&]*&?/, ""))
    }`
  );
}

Deno.test("push uploads a blob monolithically, then finds it exists", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(50_000);
    const desc = blobOf(bytes);
    const ref = `${registry.host}/team/app:v1`;
    assert.deepEqual(await c.push(ref, desc, bytes), {
      status: "uploaded",
      descriptor: desc,
    });
    assert.deepEqual(registry.blobs.get("team/app")?.get(desc.digest), bytes);
    assert.deepEqual(calls(registry), [
      "HEAD /v2/team/app/blobs/D",
      "POST /v2/team/app/blobs/uploads/",
      "PUT /v2/team/app/blobs/uploads/u1?digest=D",
    ]);
    const put = registry.requests.at(-1)!;
    assert.equal(put.headers.get("content-type"), "application/octet-stream");

    registry.requests.length = 0;
    let opened = false;
    const again = await c.push(ref, desc, () => {
      opened = true;
      return streamOf(bytes);
    });
    assert.equal(again.status, "exists");
    assert.equal(opened, false);
    assert.deepEqual(calls(registry), ["HEAD /v2/team/app/blobs/D"]);

    // A stream works too.
    const other = randomBytes(10_000);
    assert.equal(
      (await c.push(ref, blobOf(other), streamOf(other))).status,
      "uploaded",
    );
    assert.deepEqual(
      registry.blobs.get("team/app")?.get(blobOf(other).digest),
      other,
    );
  } finally {
    await registry.close();
  }
});

Deno.test("push uploads large blobs in chunks", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient({ chunkThreshold: 1000, chunkSize: 4000 });
    const bytes = randomBytes(10_000);
    const desc = blobOf(bytes);
    const result = await c.push(
      `${registry.host}/x:latest`,
      desc,
      () => streamOf(bytes),
    );
    assert.equal(result.status, "uploaded");
    assert.deepEqual(registry.blobs.get("x")?.get(desc.digest), bytes);
    assert.deepEqual(calls(registry), [
      "HEAD /v2/x/blobs/D",
      "POST /v2/x/blobs/uploads/",
      "PATCH /v2/x/blobs/uploads/u1?",
      "PATCH /v2/x/blobs/uploads/u1?",
      "PATCH /v2/x/blobs/uploads/u1?",
      "PUT /v2/x/blobs/uploads/u1?digest=D",
    ]);
    const ranges = registry.requests
      .filter((r) => r.method === "PATCH")
      .map((r) => r.headers.get("content-range"));
    assert.deepEqual(ranges, ["0-3999", "4000-7999", "8000-9999"]);
    // Each PATCH went to the location the previous answer gave.
    const patchPaths = registry.requests.filter((r) => r.method === "PATCH")
      .map((r) => r.path);
    assert.deepEqual(patchPaths, [
      "/v2/x/blobs/uploads/u1?_state=su1",
      "/v2/x/blobs/uploads/u1?_state=s4000",
      "/v2/x/blobs/uploads/u1?_state=s8000",
    ]);

    // Bytes content is chunked the same way.
    const more = randomBytes(2500);
    assert.equal(
      (await c.push(`${registry.host}/x:latest`, blobOf(more), more)).status,
      "uploaded",
    );
  } finally {
    await registry.close();
  }
});

Deno.test("push refuses content that does not match its descriptor", async () => {
  const registry = FakeRegistry.start();
  try {
    using c = new RegistryClient({ chunkThreshold: 1000, chunkSize: 400 });
    const bytes = randomBytes(800);
    const desc = blobOf(bytes);
    const wrong = randomBytes(800);
    for (const content of [wrong, () => streamOf(wrong)]) {
      await assert.rejects(
        c.push(`${registry.host}/x:latest`, desc, content),
        (err: unknown) => {
          assert.ok(BerthError.is(err, Code.FailedPrecondition), String(err));
          assert.match(err.message, /digest mismatch/);
          return true;
        },
      );
    }
    const big = blobOf(randomBytes(3000));
    await assert.rejects(
      c.push(`${registry.host}/x:latest`, big, randomBytes(3000)),
      /digest mismatch/,
    );
    assert.equal(registry.blobs.get("x")?.size ?? 0, 0);
  } finally {
    await registry.close();
  }
});

Deno.test("mountCandidate picks the closest repository on the same host", () => {
  const ref = parseReference("reg.io/team/app/web:1");
  const key = "containerd.io/distribution.source.reg.io";
  assert.equal(mountCandidate(ref, {}), undefined);
  assert.equal(
    mountCandidate(ref, { [key]: "other/x,team/app/api,team/lib" }),
    "team/app/api",
  );
  assert.equal(mountCandidate(ref, { [key]: "team/app/web" }), undefined);
  assert.equal(
    mountCandidate(ref, {
      "containerd.io/distribution.source.other.io": "a/b",
    }),
    undefined,
  );
});

Deno.test("push mounts a blob from another repository when its label says so", async () => {
  const registry = FakeRegistry.start({ auth: { kind: "bearer" } });
  try {
    using c = new RegistryClient();
    const bytes = randomBytes(2000);
    const desc = registry.addBlob("base/image", bytes, LAYER);
    const labels = {
      [`containerd.io/distribution.source.${registry.host}`]: "base/image",
    };
    const result = await c.push(`${registry.host}/mine/app:1`, desc, bytes, {
      labels,
    });
    assert.deepEqual(result, {
      status: "mounted",
      descriptor: desc,
      mountedFrom: "base/image",
    });
    assert.deepEqual(registry.blobs.get("mine/app")?.get(desc.digest), bytes);
    const post = registry.requests.find((r) =>
      r.method === "POST" && r.headers.get("authorization")
    )!;
    const url = new URL(post.path, "http://x");
    assert.equal(url.searchParams.get("mount"), desc.digest);
    assert.equal(url.searchParams.get("from"), "base/image");
    const scopes = registry.tokenRequests.map((t) => t.params.getAll("scope"));
    assert.deepEqual(scopes.at(-1), [
      "repository:base/image:pull",
      "repository:mine/app:pull,push",
    ]);
    assert.ok(!registry.requests.some((r) => r.method === "PUT"));

    // Not in the source repository: the mount POST starts an upload.
    const fresh = randomBytes(1000);
    const freshDesc = blobOf(fresh);
    const uploaded = await c.push(
      `${registry.host}/mine/app:1`,
      freshDesc,
      fresh,
      {
        labels,
      },
    );
    assert.equal(uploaded.status, "uploaded");
    assert.deepEqual(
      registry.blobs.get("mine/app")?.get(freshDesc.digest),
      fresh,
    );
  } finally {
    await registry.close();
  }
});

Deno.test("push puts a manifest with its media type to the tag, or by digest", async () => {
  const registry = FakeRegistry.start({ auth: { kind: "bearer" } });
  try {
    using c = new RegistryClient();
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI.MANIFEST,
        layers: [],
      }),
    );
    const desc = blobOf(bytes, OCI.MANIFEST);
    const ref = `${registry.host}/x:v1`;
    assert.equal((await c.push(ref, desc, bytes)).status, "uploaded");
    const put = registry.requests.find((r) => r.method === "PUT")!;
    assert.equal(put.path, "/v2/x/manifests/v1");
    assert.equal(put.headers.get("content-type"), OCI.MANIFEST);
    assert.equal(
      registry.manifests.get("x")?.get("v1")?.mediaType,
      OCI.MANIFEST,
    );
    assert.deepEqual(registry.tokenRequests.at(-1)?.params.getAll("scope"), [
      "repository:x:pull,push",
    ]);

    assert.equal(
      (await c.push(ref, desc, () => streamOf(bytes))).status,
      "exists",
    );

    registry.requests.length = 0;
    const child = new TextEncoder().encode('{"schemaVersion":2,"layers":[]}');
    const childDesc = blobOf(child, OCI.MANIFEST);
    await c.push(ref, childDesc, child, { byDigest: true });
    assert.ok(
      registry.requests.some((r) =>
        r.method === "PUT" && r.path === `/v2/x/manifests/${childDesc.digest}`
      ),
    );
    // The tag still names the first manifest.
    assert.deepEqual(registry.manifests.get("x")?.get("v1")?.bytes, bytes);

    // The resolver sees what was pushed.
    assert.deepEqual((await c.resolve(ref)).descriptor, desc);

    await assert.rejects(
      c.push(ref, childDesc, bytes),
      (err: unknown) => BerthError.is(err, Code.FailedPrecondition),
    );
  } finally {
    await registry.close();
  }
});
